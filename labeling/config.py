"""Structured config schemas of the labeling stages, registered in Hydra's ConfigStore.

Each primary YAML in `configs/` starts with `defaults: [<stage>_schema, _self_]`, so a key
that is not in the dataclass below fails at start-up instead of being silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, ValidationError

from labeling.errors import ConfigError

__all__ = [
    "AdjudicateConfig",
    "AggregationConfig",
    "AgreementConfig",
    "BuildConfig",
    "CardConfig",
    "ControlSettings",
    "IngestConfig",
    "LabelIssuesConfig",
    "ProjectSettings",
    "PullConfig",
    "PushConfig",
    "SimulateConfig",
    "SimulatedAnnotator",
    "SplitConfig",
    "StudioConfig",
    "StudioSettings",
    "register",
    "to_dataclass",
]


@dataclass
class IngestConfig:
    input: str = MISSING
    output_dir: str = MISSING
    # auto: detect per article; any ISO 639-1 code forces it for the whole run
    lang: str = "auto"
    # languages the detector chooses among (ISO 639-1); more languages cost memory and time
    detect_languages: list[str] = field(
        default_factory=lambda: ["en", "fr", "de", "es", "it", "pt", "nl", "ar", "bg", "ru", "pl", "tr"]
    )
    strict: bool = False
    # 0: one process per core when the input is large, 1: single process
    workers: int = 0
    # an article longer than this (characters) is skipped as not-an-article
    max_article_chars: int = 1_000_000
    # a sentence seen in at least this many distinct articles is flagged as boilerplate
    boilerplate_min_articles: int = 3
    # auto: a progress bar only on an interactive terminal; always; never
    progress: str = "auto"
    # optional sidecar of reference labels (JSONL: file, text, label) matched to the sentences
    reference: str | None = None


@dataclass
class AggregationConfig:
    # majority | dawid_skene | mace | glad
    method: str = "majority"
    # majority ties: unresolved (-> adjudication queue, left out of the dataset) | random | label_order
    tie_policy: str = "unresolved"
    # label_order ties: first listed wins; empty = the label set's order
    label_order: list[str] = field(default_factory=list)
    # EM iterations of dawid_skene / mace / glad (the expensive part on large exports)
    n_iter: int = 100


@dataclass
class AgreementConfig:
    # bootstrap replicates for every CI (0: no CIs); items are resampled with this seed
    bootstrap_n: int = 1000
    confidence: float = 0.95
    # pairs of annotators sharing fewer sentences get no Cohen's kappa
    min_pair_items: int = 2
    # sentences with per-item agreement below this go to the adjudication queue
    adjudication_threshold: float = 0.5
    # bootstrap threads (0: one per core, at most 8); the CIs do not depend on it
    threads: int = 0
    plots: bool = True


@dataclass
class LabelIssuesConfig:
    enabled: bool = True
    n_splits: int = 5
    max_features: int = 50_000
    max_iter: int = 200


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
    aggregation: AggregationConfig = field(default_factory=AggregationConfig)
    agreement: AgreementConfig = field(default_factory=AgreementConfig)
    label_issues: LabelIssuesConfig = field(default_factory=LabelIssuesConfig)
    splits: SplitConfig = field(default_factory=SplitConfig)
    card: CardConfig = field(default_factory=CardConfig)


@dataclass
class StudioSettings:
    """Where Label Studio runs. LABEL_STUDIO_URL + LABEL_STUDIO_API_KEY in the environment select
    an external server instead of the managed one (the key never lives in a config)."""

    # empty: LABEL_STUDIO_URL if set, else the managed server at http://127.0.0.1:<port>
    url: str = ""
    port: int = 8089
    data_dir: str = ".srcrel/studio"
    # empty: <repo>/.venv-studio/bin/label-studio (made by `make`)
    executable: str = ""
    # seconds to wait for /health on `studio up` (the first start runs migrations: ~25 s)
    start_timeout: float = 180.0


@dataclass
class StudioConfig:
    action: str = "status"  # up | down | status
    studio: StudioSettings = field(default_factory=StudioSettings)


@dataclass
class ProjectSettings:
    name: str = MISSING
    # overlap k: how many annotators label each sentence
    maximum_annotations: int = 1
    show_skip_button: bool = True


@dataclass
class ControlSettings:
    # JSONL of {sentence_id, label} (or {text, label}) with known answers; empty: the input dir's
    # reference_labels.jsonl (written by `srcrel ingest reference=...`) if there is one
    reference: str = ""
    # share of the pushed sentences used as controls (taken among those with a known label)
    fraction: float = 0.0
    seed: int = 0


@dataclass
class PushConfig:
    input: str = MISSING
    project: ProjectSettings = field(default_factory=ProjectSettings)
    label_set: str = "default"
    guidelines: str = "docs/guidelines.md"
    controls: ControlSettings = field(default_factory=ControlSettings)
    # emails of annotator accounts to create (managed server: passwords in 0600 files)
    annotators: list[str] = field(default_factory=list)
    # empty: a hash of tasks.json, so a re-run of the same input keeps the same batch id
    batch: str = ""
    chunk_size: int = 50_000
    # seconds per import request before srcrel re-checks the server and retries
    timeout: float = 600.0
    retries: int = 3
    # ledger of imported sentence_ids, control answers; one folder per project name
    state_dir: str = ".srcrel/push"
    # auto: a progress bar only on an interactive terminal; always; never
    progress: str = "auto"
    studio: StudioSettings = field(default_factory=StudioSettings)


@dataclass
class SimulatedAnnotator:
    email: str = MISSING
    # probability of giving the reference label; errors spread by a seeded draw
    accuracy: float = 0.8


@dataclass
class SimulateConfig:
    project: ProjectSettings = field(default_factory=ProjectSettings)
    # reference_labels.jsonl ({sentence_id, label}) written by `srcrel ingest reference=...`
    reference: str = MISSING
    annotators: list[SimulatedAnnotator] = field(default_factory=lambda: [
        SimulatedAnnotator("sim-annotator-1@srcrel.local", 0.9),
        SimulatedAnnotator("sim-annotator-2@srcrel.local", 0.8),
        SimulatedAnnotator("sim-annotator-3@srcrel.local", 0.7),
    ])
    label_set: str = "default"
    seed: int = 0
    state_dir: str = ".srcrel/push"
    progress: str = "auto"
    studio: StudioSettings = field(default_factory=StudioSettings)


@dataclass
class PullConfig:
    project: ProjectSettings = field(default_factory=ProjectSettings)
    output_dir: str = MISSING
    only_with_annotations: bool = True
    # seconds to wait for the export snapshot to complete
    timeout: float = 600.0
    studio: StudioSettings = field(default_factory=StudioSettings)


@dataclass
class AdjudicateConfig:
    """`srcrel adjudicate push|pull`: the Label Studio round trip of the adjudication queue."""

    action: str = MISSING  # push | pull
    # NAME: the adjudication project is NAME + suffix (NAME already ending in suffix is kept)
    project: ProjectSettings = field(default_factory=ProjectSettings)
    suffix: str = "-adjudication"
    # push: a `srcrel build` output dir, and which of its lists to send
    build: str = ""
    source: str = "queue"  # queue (adjudication_queue.csv) | label_issues (label_issues.csv)
    # push: the first N sentences of the list (0: all of them)
    limit: int = 0
    # push: the export that build read (its sha256 is checked against report.json); null: the
    # file report.json names, looked for in the build dir's parent and the working dir
    export: str | None = None
    label_set: str = "default"
    guidelines: str = "docs/guidelines.md"
    # pull: JSONL {sentence_id, label, adjudicator, created_at}, for `srcrel build adjudications=`;
    # the raw export is saved beside it
    output: str = ""
    chunk_size: int = 50_000
    timeout: float = 600.0
    retries: int = 3
    state_dir: str = ".srcrel/push"
    progress: str = "auto"
    studio: StudioSettings = field(default_factory=StudioSettings)


def _schemas() -> dict[str, type]:
    from labeling.demo import DemoConfig

    return {"ingest_schema": IngestConfig, "demo_schema": DemoConfig, "build_schema": BuildConfig,
            "studio_schema": StudioConfig, "push_schema": PushConfig, "pull_schema": PullConfig,
            "simulate_schema": SimulateConfig, "adjudicate_schema": AdjudicateConfig}


def register() -> None:
    cs = ConfigStore.instance()
    for name, node in _schemas().items():
        cs.store(name=name, node=node)


def to_dataclass(cfg: DictConfig, schema: type[Any]) -> Any:
    """Turn a composed config into its dataclass, naming a missing required setting in one line."""
    try:
        obj = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", None) or "?"
        raise ConfigError(f"missing required setting '{key}': pass {key}=... on the command line") from exc
    except ValidationError as exc:
        raise ConfigError(" ".join(str(exc).split()).split("full_key:")[0].strip()) from exc
    if not isinstance(obj, schema):
        raise ConfigError(f"config does not match {schema.__name__}")
    return obj
