"""Scores of predictions against gold labels: macro-F1 first, with bootstrap CIs over items.

Point figures come from scikit-learn's own functions. The bootstrap resamples test items with
replacement and reports the percentile interval at the configured confidence level; its
per-resample macro-F1 and accuracy are computed from confusion counts (fast, vectorised) and
tests/training/test_metrics.py checks every resample against scikit-learn's `f1_score` and
`accuracy_score` on the same items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

__all__ = ["Scores", "bootstrap_ci", "expected_calibration_error", "macro_f1", "resample_indices",
           "resample_scores", "score_predictions"]


@dataclass(frozen=True)
class Scores:
    n: int
    macro_f1: float
    accuracy: float
    macro_f1_ci: tuple[float, float]
    accuracy_ci: tuple[float, float]
    ci_level: float  # confidence level of every *_ci
    per_class: dict[str, dict[str, float]]  # label -> precision, recall, f1, support
    confusion: list[list[int]]  # rows gold, columns predicted, in `labels` order
    labels: tuple[str, ...]
    per_language: dict[str, dict[str, Any]]  # lang -> n, macro_f1, accuracy, macro_f1_ci
    ece: float | None  # expected calibration error of the top-label probability
    brier: float | None  # multi-class Brier score

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> float:
    return float(f1_score(y_true, y_pred, labels=list(labels), average="macro", zero_division=0))


def resample_indices(n_items: int, *, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_items) item indices drawn with replacement: the resamples every CI uses."""
    return np.random.default_rng(seed).integers(0, n_items, size=(n_boot, n_items))


def resample_scores(y_true: np.ndarray, y_pred: np.ndarray, *, labels: Sequence[str], n_boot: int = 1000,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Macro-F1 and accuracy of each of `n_boot` resamples of the items (see resample_indices)."""
    k = len(labels)
    code = {label: i for i, label in enumerate(labels)}
    t = np.array([code.get(v, -1) for v in y_true])
    p = np.array([code.get(v, -1) for v in y_pred])
    # accuracy compares the labels themselves (two different labels outside the set differ)
    correct = np.asarray(y_true, dtype=object) == np.asarray(y_pred, dtype=object)
    idx = resample_indices(len(t), n_boot=n_boot, seed=seed)
    f1s, accs = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):  # confusion counts per resample, vectorised over items
        tb, pb = t[idx[b]], p[idx[b]]
        hit = (tb == pb) & (tb >= 0)
        tp = np.bincount(tb[hit], minlength=k)[:k] if k else np.zeros(0)
        gold = np.bincount(tb[tb >= 0], minlength=k)[:k]
        pred = np.bincount(pb[pb >= 0], minlength=k)[:k]
        denom = gold + pred
        f1s[b] = np.mean(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0))
        accs[b] = np.mean(correct[idx[b]])
    return f1s, accs


def bootstrap_ci(y_true: np.ndarray, y_pred: np.ndarray, *, labels: Sequence[str], n_boot: int = 1000,
                 seed: int = 0, confidence: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile intervals (at `confidence`) of macro-F1 and accuracy over `n_boot` resamples."""
    if n_boot <= 0 or len(y_true) == 0:
        return {"macro_f1": (float("nan"), float("nan")), "accuracy": (float("nan"), float("nan"))}
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    f1s, accs = resample_scores(y_true, y_pred, labels=labels, n_boot=n_boot, seed=seed)
    tail = 100 * (1 - confidence) / 2
    return {name: (float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)))
            for name, values in (("macro_f1", f1s), ("accuracy", accs))}


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, *, labels: Sequence[str],
                               bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    confidence = proba.max(axis=1)
    correct = np.asarray(labels)[proba.argmax(axis=1)] == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total)


def score_predictions(y_true: Sequence[str] | np.ndarray, y_pred: Sequence[str] | np.ndarray, *,
                      labels: Sequence[str], proba: np.ndarray | None = None,
                      langs: Sequence[str] | np.ndarray | None = None,
                      n_boot: int = 1000, seed: int = 0, bins: int = 10, confidence: float = 0.95) -> Scores:
    """Every figure of metrics.json for one set of predictions (`proba` columns in `labels` order)."""
    t, p, labels = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object), tuple(labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        t, p, labels=list(labels), zero_division=0)
    per_class = {label: {"precision": float(precision[i]), "recall": float(recall[i]),
                         "f1": float(f1[i]), "support": int(support[i])} for i, label in enumerate(labels)}
    ci = bootstrap_ci(t, p, labels=labels, n_boot=n_boot, seed=seed, confidence=confidence)
    per_language: dict[str, dict[str, Any]] = {}
    if langs is not None:
        frame = pd.DataFrame({"t": t, "p": p, "lang": np.asarray(langs, dtype=object)})
        for lang, group in frame.groupby("lang", sort=True):
            lang_ci = bootstrap_ci(group["t"].to_numpy(), group["p"].to_numpy(), labels=labels,
                                   n_boot=n_boot, seed=seed, confidence=confidence)
            per_language[str(lang) or "unknown"] = {
                "n": len(group), "macro_f1": macro_f1(group["t"].to_numpy(), group["p"].to_numpy(), labels),
                "accuracy": float(accuracy_score(group["t"], group["p"])), "macro_f1_ci": lang_ci["macro_f1"]}
    ece = brier = None
    if proba is not None and len(t):
        ece = expected_calibration_error(t, proba, labels=labels, bins=bins)
        onehot = (t[:, None] == np.asarray(labels, dtype=object)[None, :]).astype(float)
        brier = float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
    return Scores(
        n=len(t), macro_f1=macro_f1(t, p, labels) if len(t) else float("nan"),
        accuracy=float(accuracy_score(t, p)) if len(t) else float("nan"),
        macro_f1_ci=ci["macro_f1"], accuracy_ci=ci["accuracy"], ci_level=confidence, per_class=per_class,
        confusion=confusion_matrix(t, p, labels=list(labels)).tolist() if len(t) else [],
        labels=labels, per_language=per_language, ece=ece, brier=brier)
