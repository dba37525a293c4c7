"""The `srcrel build` settings, registered as `build_schema` (configs/build.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from labeling.annotations.config import AggregationConfig, AgreementConfig, LabelIssuesConfig
from labeling.annotations.overlap import OverlapAnswers
from srcrel_core.settings import register_schemas

__all__ = ["BuildConfig", "CardConfig", "SplitConfig", "register"]


@dataclass
class SplitConfig:
    validation: float = 0.1
    test: float = 0.1


@dataclass
class CardConfig:
    license: str = "other"
    pretty_name: str = "srcrel source-reliability sentences"
    # true: the card states that the annotators were simulated (demo data)
    simulated_annotators: bool = False


@dataclass
class BuildConfig:
    export: str = MISSING
    output_dir: str = MISSING
    # label set name (configs/labels/<name>.yaml) or a path to one; not `labels`: Hydra would
    # read `labels=...` as a choice in the configs/labels/ folder
    label_set: str = "default"
    # JSONL {sentence_id, label}: control answers kept outside Label Studio
    controls: str | None = None
    # ingest sentences.jsonl: extra metadata (url, outlet, published) joined by sentence_id
    sentences: str | None = None
    # CSV task,label or JSONL {task, label}: adjudicated labels override the aggregate
    adjudications: str | None = None
    # the <from_name> of the <Choices> tag in the labeling config
    from_name: str = "label"
    seed: int = 0
    # answers past a sentence's configured overlap (counted in report.json and the card either way):
    # all: aggregate every answer; first: keep the first k by time, drop the rest (reason over_overlap)
    overlap_answers: OverlapAnswers = OverlapAnswers.all
    aggregation: AggregationConfig = field(default_factory=AggregationConfig)
    agreement: AgreementConfig = field(default_factory=AgreementConfig)
    label_issues: LabelIssuesConfig = field(default_factory=LabelIssuesConfig)
    splits: SplitConfig = field(default_factory=SplitConfig)
    card: CardConfig = field(default_factory=CardConfig)


def register() -> None:
    register_schemas({"build_schema": BuildConfig})
