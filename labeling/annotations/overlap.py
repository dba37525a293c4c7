"""Answers beyond a sentence's configured overlap: counted, reported, and used or not.

Label Studio accepts every submitted answer, even past a task's overlap (its label stream only
avoids handing a full task out, and on SQLite it does not even manage that under concurrency;
see docs/scaling.md). Each extra answer is paid labour and skews coverage, so `srcrel build`
counts the sentences over their overlap and, with overlap_answers=first, keeps only the first k
answers of each (the rest are dropped with reason `over_overlap`, so the counts still reconcile).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import orjson
import pandas as pd

from labeling.annotations.choices import OverlapAnswers
from labeling.annotations.export import ParsedExport, Reconciliation

__all__ = ["OverlapAnswers", "OverlapReport", "apply_overlap", "configured_overlap"]


@dataclass(frozen=True)
class OverlapReport:
    policy: str
    configured: dict[str, int]  # overlap k -> sentences asked to get k answers ("unknown": not recorded)
    items_over: int  # sentences with more answers than their overlap
    answers_beyond: int  # answers past the overlap, over all those sentences
    dropped: int  # of those, dropped (policy first)

    @property
    def statement(self) -> str:
        if not self.items_over:
            return "No sentence has more answers than its configured overlap."
        verb = "the first answers were kept, the later ones dropped" if self.policy == "first" \
            else "all answers were used"
        return (f"{self.items_over} sentences got more answers than their configured overlap "
                f"({self.answers_beyond} extra answers in all); {verb} (build overlap_answers={self.policy}).")


def _project_overlap(export: Path) -> int | None:
    sidecar = export.with_name(export.name + ".meta.json")
    if not sidecar.is_file():
        return None
    settings = orjson.loads(sidecar.read_bytes()).get("project_settings") or {}
    value = settings.get("maximum_annotations")
    return int(value) if isinstance(value, int) and value > 0 else None


def configured_overlap(parsed: ParsedExport) -> pd.Series:
    """sentence_id -> the overlap push asked for: data.srcrel_overlap, else the project's
    maximum_annotations from the pull sidecar, else <NA>."""
    recorded = pd.to_numeric(parsed.tasks["overlap"].replace("", None), errors="coerce")
    default = _project_overlap(parsed.path)
    if default is not None:
        recorded = recorded.fillna(default)
    return recorded.astype("Int64")


def apply_overlap(parsed: ParsedExport, policy: OverlapAnswers | str) -> tuple[ParsedExport, OverlapReport]:
    """Count the answers beyond each sentence's overlap; with policy first, drop them."""
    table, overlap = parsed.annotations, configured_overlap(parsed)
    per_task = table.groupby("task", observed=True).size()
    limit = overlap.reindex(per_task.index.astype(str))
    limit.index = per_task.index
    beyond = (per_task - limit).clip(lower=0).fillna(0).astype(int)
    counts = overlap.value_counts(dropna=False)
    configured = {("unknown" if pd.isna(k) else str(int(k))): int(v) for k, v in counts.items()}
    dropped = 0
    if policy == OverlapAnswers.first and beyond.sum():
        order = table.sort_values(["task", "created_at", "annotation_id"], kind="stable", na_position="last")
        rank = order.groupby("task", observed=True).cumcount()
        cap = order["task"].astype(str).map(overlap).astype("Float64")
        extra = order.index[(rank >= cap).fillna(False).to_numpy(dtype=bool)]
        gone = table.loc[extra, ["annotation_id", "task", "worker", "label"]].rename(
            columns={"label": "raw_label"}).assign(reason="over_overlap")
        kept = table.drop(index=extra).reset_index(drop=True)
        dropped = len(extra)
        rec = parsed.reconciliation
        reconciliation = Reconciliation(exported=rec.exported, kept=len(kept),
                                        dropped={**rec.dropped, "over_overlap": rec.dropped.get("over_overlap", 0)
                                                 + dropped})
        parsed = replace(parsed, annotations=kept, reconciliation=reconciliation,
                         dropped=pd.concat([parsed.dropped, gone], ignore_index=True))
    report = OverlapReport(policy=str(policy), configured=configured, items_over=int((beyond > 0).sum()),
                           answers_beyond=int(beyond.sum()), dropped=dropped)
    return parsed, report
