"""`srcrel demo`: the main job end to end on the bundled example corpus (`make demo`).

Each step calls the same plain function a user's `srcrel STAGE ...` command calls, with outputs
under `output_dir` (default `demo-output/`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from labeling.config import IngestConfig, to_dataclass
from labeling.ingest import run_ingest
from labeling.summary import console, print_ingest_summary

__all__ = ["REPO_ROOT", "DemoConfig", "run_demo", "run_from_config"]

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class DemoConfig:
    output_dir: str = "demo-output"
    articles: str = str(REPO_ROOT / "examples" / "articles")
    reference: str = str(REPO_ROOT / "examples" / "reference_labels.jsonl")


def run_from_config(cfg: DictConfig) -> None:
    run_demo(to_dataclass(cfg, DemoConfig))


def run_demo(config: DemoConfig) -> None:
    out = Path(config.output_dir)
    console.rule("[bold]1. ingest the example corpus")
    ingested = run_ingest(IngestConfig(input=config.articles, output_dir=str(out / "ingest"),
                                       reference=config.reference))
    print_ingest_summary(ingested)
    console.print(f"\nDemo outputs are in {out.resolve()}")


if __name__ == "__main__":  # `python -m labeling.demo key=value ...` == `srcrel demo key=value ...`
    from labeling.cli import main

    main(["demo", *sys.argv[1:]])
