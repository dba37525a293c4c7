"""Per-annotator figures: workload, speed, accuracy on control sentences, agreement with consensus."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

__all__ = ["annotator_stats", "confusion_against_consensus"]


def _lookup(tasks: pd.Series, mapping: pd.Series) -> np.ndarray:
    """mapping[task] per row (None where absent); one lookup per category, not per row."""
    if isinstance(tasks.dtype, pd.CategoricalDtype):
        per_category = mapping.reindex(tasks.cat.categories).astype(object).to_numpy()
        # one extra slot so code -1 (a missing task) reads None
        found = np.concatenate([per_category, np.array([None], dtype=object)])
        values = found[tasks.cat.codes.to_numpy()]
    else:
        values = tasks.map(mapping).astype(object).to_numpy()
    values[pd.isna(values)] = None
    return values


def annotator_stats(annotations: pd.DataFrame, consensus: pd.Series, reference: pd.Series) -> pd.DataFrame:
    """One row per worker: items, median_lead_time, control_items, control_accuracy,
    consensus_items, consensus_agreement (on non-control sentences with a resolved label)."""
    label = annotations["label"].astype(str).to_numpy()
    truth = _lookup(annotations["task"], reference)
    in_control = truth != None
    agreed = _lookup(annotations["task"], consensus)
    agreed[in_control] = None
    has_consensus = agreed != None
    frame = pd.DataFrame({
        "worker": annotations["worker"].astype(str).to_numpy(),
        "lead_time": annotations["lead_time"].to_numpy(dtype=float),
        "control_hit": np.where(in_control, label == truth, np.nan).astype(float),
        "consensus_hit": np.where(has_consensus, label == agreed, np.nan).astype(float),
    })
    grouped = frame.groupby("worker", sort=True)
    return pd.DataFrame({
        "items": grouped.size(),
        "median_lead_time": grouped["lead_time"].median(),
        "control_items": grouped["control_hit"].count(),
        "control_accuracy": grouped["control_hit"].mean(),
        "consensus_items": grouped["consensus_hit"].count(),
        "consensus_agreement": grouped["consensus_hit"].mean(),
    })


def confusion_against_consensus(annotations: pd.DataFrame, consensus: pd.Series, *,
                                labels: Sequence[str]) -> dict[str, np.ndarray]:
    """worker -> counts (rows: consensus label, columns: the worker's label)."""
    index = {name: code for code, name in enumerate(labels)}
    agreed = pd.Series(_lookup(annotations["task"], consensus)).map(index)
    frame = pd.DataFrame({"worker": annotations["worker"].astype(str).to_numpy(),
                          "given": annotations["label"].astype(str).map(index).to_numpy(),
                          "agreed": agreed.to_numpy()}).dropna()
    codes = list(range(len(labels)))
    return {str(worker): confusion_matrix(group["agreed"].astype(int), group["given"].astype(int),
                                          labels=codes)
            for worker, group in frame.groupby("worker", sort=True)}
