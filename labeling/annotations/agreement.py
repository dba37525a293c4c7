"""Inter-annotator agreement over the long table (task, worker, label), with bootstrap CIs.

Every coefficient comes from a maintained library: Krippendorff's α from `krippendorff`,
Fleiss' κ and the bootstrap Cohen's κ from `statsmodels`, point Cohen's κ from scikit-learn.
A bootstrap replicate resamples items (tasks) with replacement, the same draw for every figure.

>>> table = pd.DataFrame({"task": ["s1", "s1", "s2", "s2"], "worker": ["a", "b", "a", "b"],
...                       "label": ["opinion", "opinion", "sourced", "opinion"]})
>>> compute_agreement(table, labels=("sourced", "opinion"), bootstrap_n=0).observed.value
0.5
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import krippendorff
import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa

from labeling.annotations.table import count_labels, pairwise_agreement

__all__ = [
    "AgreementReport",
    "Estimate",
    "PairKappa",
    "compute_agreement",
]


@dataclass(frozen=True)
class Estimate:
    value: float
    ci_low: float
    ci_high: float
    n_items: int


@dataclass(frozen=True)
class PairKappa:
    worker_a: str
    worker_b: str
    kappa: Estimate


@dataclass(frozen=True)
class AgreementReport:
    labels: tuple[str, ...]
    n_items: int
    n_annotations: int
    n_workers: int
    observed: Estimate
    krippendorff_alpha: Estimate
    fleiss_kappa: Estimate
    fleiss_coverage: int
    per_label_alpha: dict[str, Estimate]
    pairwise_kappa: tuple[PairKappa, ...]
    bootstrap_n: int
    confidence: float
    seed: int


def _alpha(counts: np.ndarray) -> float:
    if (counts.sum(axis=1) >= 2).sum() == 0 or (counts.sum(axis=0) > 0).sum() < 2:
        return float("nan")  # no pairable values, or a single value used: α is undefined
    return float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))


def _fleiss(counts: np.ndarray, coverage: int) -> float:
    table = counts[counts.sum(axis=1) == coverage]
    if len(table) == 0 or coverage < 2:
        return float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(fleiss_kappa(table, method="fleiss"))


def _modal_coverage(counts: np.ndarray) -> int:
    """The most common number of labels per item (ties -> the larger), over items with >= 2."""
    n = counts.sum(axis=1)
    n = n[n >= 2]
    if len(n) == 0:
        return 0
    values, freq = np.unique(n, return_counts=True)
    return int(values[freq == freq.max()].max())


def _per_label_counts(counts: np.ndarray, j: int) -> np.ndarray:
    """One-vs-rest counts for label j: α on these is the label's own reliability."""
    return np.stack([counts[:, j], counts.sum(axis=1) - counts[:, j]], axis=1)


def _worker_vectors(annotations: pd.DataFrame, items: pd.Index,
                    labels: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """worker -> (item positions, label codes), one label per (task, worker): the last row wins."""
    frame = pd.DataFrame({
        "item": items.get_indexer(annotations["task"]),
        "code": pd.Categorical(annotations["label"], categories=list(labels)).codes,
        "worker": annotations["worker"].astype(str).to_numpy(),
    }).drop_duplicates(["worker", "item"], keep="last")
    return {str(w): (g["item"].to_numpy(), g["code"].to_numpy().astype(np.int64))
            for w, g in frame.sort_values(["worker", "item"]).groupby("worker", sort=True)}


def _kappa_from_table(table: np.ndarray) -> float:
    if table.sum() == 0:
        return float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(cohens_kappa(table, return_results=False))


def _estimate(value: float, replicates: list[float], n_items: int, confidence: float) -> Estimate:
    reps = np.asarray(replicates, dtype=float)
    reps = reps[np.isfinite(reps)]
    if len(reps) == 0:
        return Estimate(value, float("nan"), float("nan"), n_items)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(reps, [tail, 100.0 - tail])
    return Estimate(value, float(low), float(high), n_items)


def compute_agreement(
    annotations: pd.DataFrame,
    *,
    labels: Sequence[str],
    bootstrap_n: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    min_pair_items: int = 2,
    threads: int = 0,
) -> AgreementReport:
    """All agreement figures for the long table, each with a seeded item bootstrap CI.

    `threads` runs bootstrap replicates in parallel (0: one per core, at most 8).
    """
    labels = tuple(labels)
    table = count_labels(annotations, labels)
    counts = table.to_numpy()
    n_items, k = counts.shape
    coverage = _modal_coverage(counts)
    per_item = pairwise_agreement(counts)
    valid = np.isfinite(per_item)

    workers = _worker_vectors(annotations, table.index, labels)
    pairs: list[tuple[str, str, np.ndarray, np.ndarray]] = []
    point_kappa: list[float] = []
    for a, b in itertools.combinations(sorted(workers), 2):
        items_a, codes_a = workers[a]
        items_b, codes_b = workers[b]
        shared, ia, ib = np.intersect1d(items_a, items_b, assume_unique=True, return_indices=True)
        if len(shared) < min_pair_items:
            continue
        pair_codes = codes_a[ia] * k + codes_b[ib]
        pairs.append((a, b, shared, pair_codes))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # undefined κ (one label only) comes back as NaN
            point_kappa.append(float(cohen_kappa_score(codes_a[ia], codes_b[ib], labels=range(k))))

    point = {
        "observed": float(np.mean(per_item[valid])) if valid.any() else float("nan"),
        "alpha": _alpha(counts),
        "fleiss": _fleiss(counts, coverage),
        **{f"label:{j}": _alpha(_per_label_counts(counts, j)) for j in range(k)},
    }

    def replicate(child: np.random.SeedSequence) -> tuple[dict[str, float], list[float]]:
        idx = np.random.default_rng(child).integers(0, n_items, n_items)
        sample = counts[idx]
        weights = np.bincount(idx, minlength=n_items)
        sample_agree = per_item[idx]
        ok = np.isfinite(sample_agree)
        values = {"observed": float(sample_agree[ok].mean()) if ok.any() else float("nan"),
                  "alpha": _alpha(sample), "fleiss": _fleiss(sample, coverage),
                  **{f"label:{j}": _alpha(_per_label_counts(sample, j)) for j in range(k)}}
        kappas = [_kappa_from_table(np.bincount(pair_codes, weights=weights[shared],
                                                minlength=k * k).reshape(k, k))
                  for _, _, shared, pair_codes in pairs]
        return values, kappas

    # one child seed per replicate: the same CIs whatever the thread count; numpy releases the GIL
    children = np.random.SeedSequence(seed).spawn(bootstrap_n if n_items else 0)
    with ThreadPoolExecutor(max_workers=max(1, min(threads or os.cpu_count() or 1, 8))) as pool, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # set once here: catch_warnings is not thread-safe
        results = list(pool.map(replicate, children))
    reps = {key: [values[key] for values, _ in results] for key in point}
    pair_reps = [[kappas[slot] for _, kappas in results] for slot in range(len(pairs))]

    n_valid = int(valid.sum())
    n_fleiss = int((counts.sum(axis=1) == coverage).sum()) if coverage else 0
    return AgreementReport(
        labels=labels,
        n_items=n_items,
        n_annotations=int(counts.sum()),
        n_workers=int(annotations["worker"].nunique()),
        observed=_estimate(point["observed"], reps["observed"], n_valid, confidence),
        krippendorff_alpha=_estimate(point["alpha"], reps["alpha"], n_valid, confidence),
        fleiss_kappa=_estimate(point["fleiss"], reps["fleiss"], n_fleiss, confidence),
        fleiss_coverage=coverage,
        per_label_alpha={labels[j]: _estimate(point[f"label:{j}"], reps[f"label:{j}"], n_valid,
                                              confidence) for j in range(k)},
        pairwise_kappa=tuple(
            PairKappa(a, b, _estimate(kappa, pair_reps[slot], len(shared), confidence))
            for slot, ((a, b, shared, _), kappa) in enumerate(zip(pairs, point_kappa, strict=True))
        ),
        bootstrap_n=bootstrap_n,
        confidence=confidence,
        seed=seed,
    )
