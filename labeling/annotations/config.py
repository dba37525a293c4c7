"""Settings of agreement, aggregation and the label-issue check (parts of `srcrel build`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from labeling.annotations.choices import Method, TiePolicy

__all__ = ["AggregationConfig", "AgreementConfig", "LabelIssuesConfig"]


@dataclass
class AggregationConfig:
    # majority | dawid_skene | mace | glad
    method: Method = Method.majority
    # majority ties: unresolved (-> adjudication queue, left out of the dataset) | random | label_order
    tie_policy: TiePolicy = TiePolicy.unresolved
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
