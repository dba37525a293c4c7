"""Adjudication hook: pick the sentences a human should settle, and apply their decisions.

The Label Studio round trip (push an adjudication project, pull it) is wired elsewhere; this
module only decides what goes there and merges the answers back as label_source=adjudicated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from labeling.annotations.aggregate import Aggregation
from srcrel_core.io import read_label_records

__all__ = ["apply_adjudications", "read_adjudications", "select_for_adjudication"]


def select_for_adjudication(aggregation: Aggregation, agreement: pd.Series, *,
                            threshold: float) -> pd.DataFrame:
    """Tasks left tied or whose per-item agreement is below `threshold` (columns task, reason, agreement)."""
    item = agreement.reindex(aggregation.labels.index)
    tied = aggregation.labels.isna()
    low = (item < threshold) & ~tied & (aggregation.label_source != "control")
    reason = pd.Series(None, index=item.index, dtype=object)
    reason[low] = "low_agreement"
    reason[tied] = "tie"
    picked = reason.notna()
    return pd.DataFrame({"task": item.index[picked], "reason": reason[picked].to_numpy(),
                         "agreement": item[picked].to_numpy()}).sort_values(
        ["agreement", "task"], na_position="first", kind="stable").reset_index(drop=True)


def read_adjudications(path: str | Path, *, label_names: Sequence[str]) -> pd.Series:
    """A table of decisions (CSV with columns task,label or JSONL {task|sentence_id, label});
    a sentence decided twice keeps its last decision."""
    records = read_label_records(path, label_names=label_names, what="adjudications file",
                                 id_fields=("task", "sentence_id"),
                                 fix="one {\"task\": ..., \"label\": ...} per line (or a CSV task,label), "
                                     "as `srcrel adjudicate pull` writes; or adjudications=null")
    decisions = {r.sentence_id: r.label for r in records}
    return pd.Series(decisions, name="label", dtype=object).rename_axis("task")


def apply_adjudications(aggregation: Aggregation, adjudications: pd.Series) -> Aggregation:
    """Adjudicated labels override the aggregate (tasks absent from the aggregate are ignored)."""
    known = adjudications[adjudications.index.isin(aggregation.labels.index)]
    labels = aggregation.labels.copy()
    source = aggregation.label_source.copy()
    labels.loc[known.index] = known.to_numpy()
    source.loc[known.index] = "adjudicated"
    return dataclasses.replace(aggregation, labels=labels, label_source=source,
                               unresolved=labels.index[labels.isna()])
