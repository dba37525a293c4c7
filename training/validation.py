"""Grouped k-fold CV on train (no article in two folds) and the learning curve.

The learning curve trains on growing shares of the training *articles* and scores each model on
the held-out split with bootstrap CIs, to answer: would more annotation raise macro-F1?
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import (
    GroupKFold,
    PredefinedSplit,
    StratifiedGroupKFold,
    cross_validate,
)

from training.data import model_inputs
from training.metrics import bootstrap_ci

__all__ = [
    "CVResult",
    "CurvePoint",
    "assign_folds",
    "fit_and_score",
    "judge_learning_curve",
    "run_grouped_cv",
    "run_learning_curve",
]


@dataclass(frozen=True)
class CVResult:
    """Mean and sd over the folds that could be scored; failed folds are counted, with why."""

    n_folds: int
    fold_macro_f1: tuple[float, ...]  # NaN for a fold the model could not be fit on
    macro_f1_mean: float
    macro_f1_std: float
    failed_folds: int = 0
    failures: tuple[str, ...] = ()  # one reason per failed fold, e.g. "ValueError: ... 1 class"


@dataclass(frozen=True)
class CurvePoint:
    n_train: int
    n_articles: int
    macro_f1: float
    macro_f1_ci: tuple[float, float]


def assign_folds(labels: Sequence[str], groups: Sequence[str], *, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold number per row; every article's rows share one fold. n_folds is capped at #articles."""
    k = min(n_folds, len(set(groups)))
    if k < 2:
        return np.zeros(len(labels), dtype=np.int64)
    fold = np.empty(len(labels), dtype=np.int64)
    splitter: Any = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    if pd.Series(labels).value_counts().max() < k:  # too few of every label to stratify
        splitter = GroupKFold(n_splits=k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "least populated class has fewer members than n_splits"
        for number, (_, held) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
            fold[held] = number
    return fold


def _fit_or_none(estimator: Any, train: pd.DataFrame) -> Any:
    """A clone fit on `train`, or None when the subset is too small for the model (e.g. the SVM's
    3-fold calibration needs 3 items per label): that CV fold or curve point is then left out."""
    if train["label"].nunique() < 2:
        return None
    try:
        return clone(estimator).fit(model_inputs(train), train["label"].to_numpy())
    except ValueError:
        return None


def fit_and_score(estimator: Any, train: pd.DataFrame, held: pd.DataFrame, labels: Sequence[str]) -> float:
    """Macro-F1 on `held` of a clone fit on `train`; NaN when the model cannot be fit on it."""
    model = _fit_or_none(estimator, train)
    if model is None or held.empty:
        return float("nan")
    pred = model.predict(model_inputs(held))
    return float(f1_score(held["label"], pred, labels=list(labels), average="macro", zero_division=0))


def run_grouped_cv(estimator: Any, train: pd.DataFrame, *, labels: Sequence[str], n_folds: int,
                   seed: int = 0) -> CVResult | None:
    """Macro-F1 per fold of StratifiedGroupKFold by article_id, through scikit-learn's
    `cross_validate(..., error_score=np.nan)`; None when < 2 articles. A fold the model cannot be
    fit on (e.g. one label only) scores NaN, is left out of the mean and sd, and is reported."""
    fold = assign_folds(train["label"].to_numpy(), train["article_id"].to_numpy(), n_folds=n_folds,
                        seed=seed)
    k = int(fold.max()) + 1
    if k < 2:
        return None
    # pos_label=None: macro-F1 has no positive class (string labels would fail the default 1)
    scorer = make_scorer(f1_score, labels=list(labels), average="macro", zero_division=0, pos_label=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FitFailedWarning)
        warnings.simplefilter("always", UserWarning)  # "Scoring failed": recorded, not hidden
        try:
            result = cross_validate(estimator, model_inputs(train), train["label"].to_numpy(),
                                    cv=PredefinedSplit(fold), scoring=scorer, error_score=np.nan)
            scores = tuple(float(s) for s in result["test_score"])
            messages = [str(w.message) for w in caught if issubclass(w.category, FitFailedWarning)
                        or str(w.message).startswith("Scoring failed")]
        except ValueError as exc:  # scikit-learn raises when every fold failed
            if "fits failed" not in str(exc):
                raise
            scores, messages = (float("nan"),) * k, [str(exc)]
    failures = _failure_reasons(messages)
    bugs = [reason for reason in failures if not reason.startswith("ValueError")]
    if bugs:  # data too thin for a fold is a ValueError; anything else is a bug, shown as one
        raise RuntimeError(f"cross-validation failed with an error that is not about the data: {bugs[0]}")
    finite = [s for s in scores if not math.isnan(s)]
    return CVResult(k, scores, float(np.mean(finite)) if finite else float("nan"),
                    float(np.std(finite)) if finite else float("nan"),
                    failed_folds=k - len(finite), failures=tuple(failures))


_FAILED = re.compile(r"(\d+) fits? failed with the following error:\n(.*?)(?=\n-{10,}|\Z)", re.DOTALL)


def _failure_reasons(messages: Sequence[str]) -> list[str]:
    """The error line of each failed fit or score in scikit-learn's warning / ValueError text."""
    reasons = []
    for message in messages:
        if message.startswith("Scoring failed"):
            reasons.append(next((line.strip() for line in reversed(message.splitlines()) if line.strip()),
                                "scoring failed"))
            continue
        for count, body in _FAILED.findall(message):
            last = next((line.strip() for line in reversed(body.splitlines()) if line.strip()), "unknown")
            reasons.extend([last] * int(count))
    return reasons


def run_learning_curve(estimator: Any, train: pd.DataFrame, held: pd.DataFrame, *,
                       labels: Sequence[str], fractions: Sequence[float], n_boot: int = 1000,
                       seed: int = 0, confidence: float = 0.95) -> list[CurvePoint]:
    """Macro-F1 on `held` after training on the first `fraction` of shuffled train articles."""
    articles = train["article_id"].drop_duplicates().to_numpy()
    order = np.random.default_rng(seed).permutation(articles)
    points: list[CurvePoint] = []
    seen: set[int] = set()
    for fraction in sorted(fractions):
        n_articles = max(1, math.ceil(fraction * len(order)))
        subset = train[train["article_id"].isin(set(order[:n_articles]))]
        if n_articles in seen or held.empty:
            continue
        seen.add(n_articles)
        model = _fit_or_none(estimator, subset)
        if model is None:
            continue
        pred = model.predict(model_inputs(held))
        gold = held["label"].to_numpy()
        ci = bootstrap_ci(gold, pred, labels=labels, n_boot=n_boot, seed=seed, confidence=confidence)["macro_f1"]
        score = float(f1_score(gold, pred, labels=list(labels), average="macro", zero_division=0))
        points.append(CurvePoint(len(subset), n_articles, score, ci))
    return points


def judge_learning_curve(points: Sequence[CurvePoint]) -> str:
    """One sentence on whether more labels of the same kind are likely to pay."""
    if len(points) < 2:
        return "too few points to judge (need at least two training sizes with both classes)"
    last, before = points[-1], points[-2]
    gain = last.macro_f1 - before.macro_f1
    per_100 = 100 * gain / max(1, last.n_train - before.n_train)
    if gain > 0.01:
        return (f"still rising: +{gain:.3f} macro-F1 from {before.n_train} to {last.n_train} labels "
                f"({per_100:+.3f} per 100 labels); more annotation likely pays")
    return (f"flat: {gain:+.3f} macro-F1 from {before.n_train} to {last.n_train} labels; more labels "
            "of the same kind are unlikely to move macro-F1 much (try better labels or features)")
