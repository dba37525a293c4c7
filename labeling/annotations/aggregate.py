"""Aggregate the long table (task, worker, label) into one label per task.

Majority vote with an explicit tie policy, or a crowd-kit model (Dawid-Skene, MACE, GLAD).
The vote distribution per task (soft label) is always kept, whatever the method.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labeling.annotations.choices import Method, TiePolicy
from labeling.annotations.table import count_labels

__all__ = ["Aggregation", "Method", "TiePolicy", "aggregate", "majority_vote", "soft_labels"]



METHODS: tuple[str, ...] = tuple(Method)
TIE_POLICIES: tuple[str, ...] = tuple(TiePolicy)


@dataclass(frozen=True)
class Aggregation:
    """labels: task -> label, None where a tie was left unresolved (-> adjudication)."""

    method: Method
    labels: pd.Series
    label_source: pd.Series  # task -> majority / dawid_skene / mace / glad / adjudicated / control
    soft_labels: pd.DataFrame  # task x label names, rows sum to 1
    unresolved: pd.Index
    # worker -> estimated confusion (rows: true label, columns: given label); Dawid-Skene only
    confusions: dict[str, pd.DataFrame] = field(default_factory=dict)
    # worker -> skill estimate (MACE competence 1 - spamming, GLAD alpha)
    skills: dict[str, float] = field(default_factory=dict)


def soft_labels(annotations: pd.DataFrame, *, labels: Sequence[str]) -> pd.DataFrame:
    """Share of annotators who chose each label, per task (columns in label-set order)."""
    counts = count_labels(annotations, labels)
    return counts.div(counts.sum(axis=1), axis=0)


def majority_vote(
    annotations: pd.DataFrame,
    *,
    labels: Sequence[str],
    tie_policy: TiePolicy | str = TiePolicy.unresolved,
    label_order: Sequence[str] = (),
    seed: int = 0,
) -> pd.Series:
    """Most frequent label per task; a tie follows `tie_policy` (None when unresolved).

    `label_order` (default: the label-set order) decides ties under "label_order";
    "random" draws among the tied labels with a generator seeded by `seed`, tasks in sorted order.
    """
    if tie_policy not in TIE_POLICIES:
        raise ValueError(f"tie_policy must be one of {TIE_POLICIES}, got {tie_policy!r}")
    counts = count_labels(annotations, labels)
    matrix = counts.to_numpy()
    tied = matrix == matrix.max(axis=1, keepdims=True)
    winner = tied.argmax(axis=1)
    is_tie = tied.sum(axis=1) > 1
    if tie_policy == "label_order":
        order = list(label_order) or list(labels)
        rank = np.array([order.index(name) if name in order else len(order) for name in labels])
        winner[is_tie] = np.where(tied[is_tie], rank, len(labels) + 1).argmin(axis=1)
    elif tie_policy == "random":
        rng = np.random.default_rng(seed)
        draws = rng.random((int(is_tie.sum()), len(labels)))
        winner[is_tie] = np.where(tied[is_tie], draws, -1.0).argmax(axis=1)
    result = pd.Series(np.asarray(labels, dtype=object)[winner], index=counts.index, name="label")
    if tie_policy == "unresolved":
        result[is_tie] = None
    return result


def _fit_crowdkit(annotations: pd.DataFrame, method: Method, *, labels: Sequence[str],
                  n_iter: int, seed: int) -> tuple[pd.Series, dict[str, pd.DataFrame], dict[str, float]]:
    from crowdkit.aggregation import GLAD, MACE, DawidSkene

    # crowd-kit runs several times faster on integer codes than on strings
    task_codes, task_names = pd.factorize(annotations["task"].astype(str), sort=True)
    worker_codes, worker_names = pd.factorize(annotations["worker"].astype(str), sort=True)
    label_codes = pd.Categorical(annotations["label"], categories=list(labels)).codes
    frame = pd.DataFrame({"task": task_codes, "worker": worker_codes,
                          "label": label_codes.astype(np.int64)})
    names = np.asarray(labels, dtype=object)
    confusions: dict[str, pd.DataFrame] = {}
    skills: dict[str, float] = {}
    model: Any
    with warnings.catch_warnings():
        # crowd-kit 1.4 uses pandas idioms that pandas 3 deprecates; nothing srcrel can act on
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        model = {"dawid_skene": lambda: DawidSkene(n_iter=n_iter),
                 "mace": lambda: MACE(n_iter=n_iter, random_state=seed),
                 "glad": lambda: GLAD(n_iter=n_iter)}[method]().fit(frame)
    if method == "dawid_skene":
        codes = list(range(len(labels)))
        for worker, errors in model.errors_.groupby(level="worker", sort=True):
            # crowd-kit: rows observed label, columns true label; srcrel: rows true, columns given
            matrix = errors.droplevel("worker").reindex(index=codes, columns=codes, fill_value=0.0)
            confusions[str(worker_names[worker])] = pd.DataFrame(
                matrix.T.to_numpy(), index=pd.Index(list(labels), name="true"),
                columns=pd.Index(list(labels), name="given"))
    elif method == "mace":
        # MACE numbers workers by first appearance; column 1 is P(not spamming) = competence
        appearance = pd.factorize(frame["worker"])[1]
        competence = np.asarray(model.spamming_, dtype=float)[:, 1]
        skills = {str(worker_names[code]): float(c) for code, c in zip(appearance, competence)}
    else:
        skills = {str(worker_names[w]): float(a) for w, a in model.alphas_.items()}
    predicted = pd.Series(names[model.labels_.to_numpy().astype(np.int64)],
                          index=task_names[model.labels_.index.to_numpy()], dtype=object)
    return predicted, confusions, skills


def aggregate(
    annotations: pd.DataFrame,
    *,
    labels: Sequence[str],
    method: Method | str = Method.majority,
    tie_policy: TiePolicy | str = TiePolicy.unresolved,
    label_order: Sequence[str] = (),
    seed: int = 0,
    n_iter: int = 100,
    controls: pd.Series | None = None,
) -> Aggregation:
    """One label per task; control sentences take their known answer (label_source=control)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    soft = soft_labels(annotations, labels=labels)
    confusions: dict[str, pd.DataFrame] = {}
    skills: dict[str, float] = {}
    method = Method(method)
    if method == "majority":
        result = majority_vote(annotations, labels=labels, tie_policy=tie_policy,
                               label_order=label_order, seed=seed)
    else:
        predicted, confusions, skills = _fit_crowdkit(annotations, method, labels=labels,
                                                      n_iter=n_iter, seed=seed)
        result = predicted.reindex(soft.index).rename("label")
    source = pd.Series(str(method), index=soft.index, name="label_source", dtype=object)
    if controls is not None and len(controls):
        known = controls[controls.index.isin(soft.index)]
        result.loc[known.index] = known.to_numpy()
        source.loc[known.index] = "control"
    return Aggregation(method=method, labels=result, label_source=source, soft_labels=soft,
                       unresolved=result.index[result.isna()], confusions=confusions, skills=skills)
