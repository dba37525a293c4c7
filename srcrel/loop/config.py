"""The schema of `srcrel loop next|status` (configs/loop.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from labeling.studio.config import InterfaceSettings, ProjectSettings, StudioSettings
from srcrel.loop.choices import ColdStart, Strategy, Uncertainty
from srcrel_core.progress import ProgressMode
from training.config import FeaturesConfig, ModelConfig

__all__ = ["LoopAction", "LoopConfig", "LoopSettings", "register"]


class LoopAction(StrEnum):
    """next: train on the labels so far, choose a batch, push it; status: the rounds so far."""

    next = "next"
    status = "status"


@dataclass
class LoopSettings:
    # share of every batch drawn uniformly at random (never pre-filled, never used to train):
    # the audit sample on which the loop's macro-F1 is an unbiased estimate
    audit_share: float = 0.2
    # how the rest of a batch is chosen once a model exists: uncertainty_diversity with the e5
    # baseline needed the fewest labels in benchmarks/active_learning.py (0.83x random's)
    strategy: Strategy = Strategy.uncertainty_diversity
    uncertainty: Uncertainty = Uncertainty.margin
    cold_start: ColdStart = ColdStart.random  # the first round, with no labels yet
    pool_factor: int = 5  # uncertainty_diversity: cluster the pool_factor x batch most uncertain
    seed: int = 0
    # pre-annotation (for speed, not for gold data): the model's answer is pushed as a prediction
    # with its model_version and score, and shown pre-filled
    preannotate: bool = False
    # with preannotate: a seeded share of the tasks that would be pre-filled is pushed without,
    # so the card can measure how far pre-filling moves annotators towards the model
    anchoring_check: bool = False
    anchoring_share: float = 0.5
    n_boot: int = 1000  # bootstrap resamples for the audit macro-F1 CI
    confidence: float = 0.95


@dataclass
class LoopConfig:
    action: LoopAction = MISSING
    # an ingest output dir: the unlabelled pool stays local, the loop pushes batches of it
    pool: str = ""
    project: ProjectSettings = field(default_factory=ProjectSettings)
    batch_size: int = 50
    loop: LoopSettings = field(default_factory=LoopSettings)
    # the round log (rounds.jsonl) and each round's folder (export, tasks.json, model)
    output_dir: str = "loop"
    label_set: str = "default"
    guidelines: str = "docs/guidelines.md"
    interface: InterfaceSettings = field(default_factory=InterfaceSettings)
    annotators: list[str] = field(default_factory=list)
    state_dir: str = ".srcrel/push"
    lock_wait: float = 600.0
    progress: ProgressMode = ProgressMode.auto
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    studio: StudioSettings = field(default_factory=StudioSettings)


def register() -> None:
    ConfigStore.instance().store(name="loop_schema", node=LoopConfig)
