"""Which unlabelled sentences to annotate next: a uniform-random audit share, then the rest by
uncertainty, diversity, both, or at random. Pure and seeded: the same inputs give the same batch.

    >>> batch = select_batch(["s1", "s2", "s3", "s4"], batch_size=2, seed=0, round_index=1,
    ...                      audit_share=0.5, strategy="random")
    >>> [(c.strategy, c.audit) for c in batch]
    [('audit', True), ('cold_random', False)]

The audit part is drawn first, from every candidate, before any model score is looked at: it is
a simple random sample of the pool as it stands, so a macro-F1 measured on the audit labels is an
unbiased estimate for the pool, which the actively chosen labels never are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import entropy
from sklearn.cluster import KMeans

from srcrel.loop.choices import ColdStart, Strategy, Uncertainty

__all__ = ["Choice", "ColdStart", "Strategy", "Uncertainty", "select_batch", "uncertainty_scores"]


@dataclass(frozen=True)
class Choice:
    sentence_id: str
    strategy: str  # "audit", or the strategy (or cold start) that chose it
    audit: bool
    score: float | None  # the uncertainty score when a model scored the pool, else None


def uncertainty_scores(proba: np.ndarray, measure: Uncertainty | str = Uncertainty.margin) -> np.ndarray:
    """Higher is less certain: margin gives 1 - (p1 - p2), entropy the entropy of each row."""
    proba = np.asarray(proba, dtype=float)
    if measure == Uncertainty.entropy:
        return np.asarray(entropy(proba.T), dtype=float)
    top2 = -np.partition(-proba, 1, axis=1)[:, :2] if proba.shape[1] > 1 else np.hstack(
        [proba, np.zeros_like(proba)])
    return np.asarray(1.0 - (top2[:, 0] - top2[:, 1]), dtype=float)


def _central(features: Any, k: int, seed: int) -> list[int]:
    """Row index nearest each of k k-means centres (distinct rows, at most k)."""
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(features)
    distance = km.transform(features)
    chosen: list[int] = []
    for c in range(k):
        for row in np.argsort(distance[:, c], kind="stable"):
            if int(row) not in chosen:
                chosen.append(int(row))
                break
    return chosen


def _most_uncertain_per_cluster(features: Any, scores: np.ndarray, k: int, seed: int) -> list[int]:
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(features)
    chosen = []
    for c in range(k):
        rows = np.flatnonzero(km.labels_ == c)
        if len(rows):
            chosen.append(int(rows[np.argmax(scores[rows])]))
    rest = [int(r) for r in np.argsort(-scores, kind="stable") if int(r) not in chosen]
    return chosen + rest[: k - len(chosen)]  # an empty cluster gives its place to the next most uncertain


def select_batch(candidates: Sequence[str], *, batch_size: int, seed: int, round_index: int,
                 audit_share: float = 0.2, strategy: Strategy | str = Strategy.uncertainty,
                 proba: np.ndarray | None = None, features: Any = None,
                 uncertainty: Uncertainty | str = Uncertainty.margin,
                 cold_start: ColdStart | str = ColdStart.random, pool_factor: int = 5) -> list[Choice]:
    """Up to `batch_size` candidates (in the order given; `proba` and `features` rows follow it).

    Without `proba` (no model yet) the non-audit part follows `cold_start`. The random draws come
    from a generator seeded by (seed, round_index), so a round is reproducible on its own.
    """
    if not 0 <= audit_share <= 1:
        raise ValueError(f"audit_share must be in [0, 1], got {audit_share}")
    strategy, uncertainty, cold_start = Strategy(strategy), Uncertainty(uncertainty), ColdStart(cold_start)
    n = len(candidates)
    size = min(batch_size, n)
    if size <= 0:
        return []
    rng = np.random.default_rng([seed, round_index])
    n_audit = min(size, round(size * audit_share))
    audit = [int(i) for i in rng.choice(n, size=n_audit, replace=False)]
    rest = np.setdiff1d(np.arange(n), audit)  # sorted: the order given
    k = size - n_audit
    scores = uncertainty_scores(proba, uncertainty) if proba is not None else None
    picked: list[int]
    if k == 0:
        picked, how = [], str(strategy)
    elif scores is None:
        how = f"cold_{cold_start}"
        if cold_start == ColdStart.cluster and features is not None and len(rest) > k:
            picked = [int(rest[i]) for i in _central(_rows(features, rest), k, seed)]
        else:
            picked = [int(i) for i in rng.choice(rest, size=k, replace=False)]
    elif strategy == Strategy.random:
        how, picked = "random", [int(i) for i in rng.choice(rest, size=k, replace=False)]
    elif strategy == Strategy.uncertainty or (features is None or len(rest) <= k):
        how = "uncertainty"
        picked = [int(rest[i]) for i in np.argsort(-scores[rest], kind="stable")[:k]]
    elif strategy == Strategy.diversity:
        how = "diversity"
        picked = [int(rest[i]) for i in _central(_rows(features, rest), k, seed)]
    else:
        how = "uncertainty_diversity"
        top = rest[np.argsort(-scores[rest], kind="stable")[: max(k, pool_factor * k)]]
        picked = [int(top[i]) for i in _most_uncertain_per_cluster(_rows(features, top), scores[top], k, seed)]
    choices = [Choice(candidates[i], "audit", True, None if scores is None else float(scores[i])) for i in audit]
    choices += [Choice(candidates[i], how, False, None if scores is None else float(scores[i])) for i in picked]
    return choices


def _rows(features: Any, index: np.ndarray) -> Any:
    return features[np.asarray(index)]
