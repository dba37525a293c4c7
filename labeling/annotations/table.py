"""The long table every annotation flows through: one row per (task, worker, label), the shape
crowd-kit takes, and its items x labels counts. Agreement, aggregation, annotator figures and
the card all start from these counts; nothing here depends on them.

>>> table = pd.DataFrame({"task": ["s1", "s1", "s2"], "worker": ["a", "b", "a"],
...                       "label": ["opinion", "opinion", "sourced"]})
>>> count_labels(table, ("sourced", "opinion")).to_numpy().tolist()
[[0, 2], [1, 0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["count_labels", "item_agreement", "pairwise_agreement"]

def count_labels(annotations: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Items x labels count table, rows sorted by task; a label outside `labels` raises ValueError."""
    known = annotations["label"].isin(labels).to_numpy()
    if not known.all():
        unknown = sorted(set(annotations["label"][~known].astype(str)))[:5]
        raise ValueError(f"labels {unknown} are not in the label set {list(labels)}")
    tasks = pd.Categorical(annotations["task"]).remove_unused_categories()
    codes = pd.Categorical(annotations["label"], categories=list(labels)).codes
    k = len(labels)
    flat = np.bincount(tasks.codes.astype(np.int64) * k + codes, minlength=len(tasks.categories) * k)
    return pd.DataFrame(flat.reshape(-1, k), index=pd.Index(tasks.categories, name="task"),
                        columns=list(labels))


def pairwise_agreement(counts: np.ndarray) -> np.ndarray:
    """Per row of an items x labels count matrix: the share of agreeing annotator pairs."""
    n = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        agree = (counts * (counts - 1)).sum(axis=1) / (n * (n - 1))
    return np.where(n >= 2, agree, np.nan)


def item_agreement(counts: pd.DataFrame) -> pd.Series:
    """Share of agreeing annotator pairs per item (NaN for an item with fewer than two labels)."""
    return pd.Series(pairwise_agreement(counts.to_numpy()), index=counts.index, name="agreement")
