"""Who is the source: the annotators' source spans from the long table to the dataset.

Every span an annotation carries is kept or dropped with one reason, and `read == kept + dropped`:
- `not_sourced`: the annotation's label is not the sourced label (the span tool shows only after
  "sourced" is chosen; a span left behind by a changed mind is no claim about a source);
- `outside_text`: offsets that do not fall inside the sentence (a scripted or corrupted answer).
A kept span is trimmed of surrounding spaces and punctuation (a drag often takes a comma or a
quote mark with the name), so two annotators who marked the same words match exactly.

Aggregation per sentence (`source_span`, for sentences whose resolved label is sourced): among
the annotators who chose sourced there, a `\\w+` token is in the source when more than half of
them marked it; consecutive such tokens form one span. `source_outside` is set when more than half
of them ticked "the source is outside this sentence" and no token reached a majority.

Agreement: pairwise exact and token F1 (srcrel_core/spans.py, the measure of PolNeAR's human
ceiling) over every pair of annotators who both chose sourced on a sentence, with bootstrap CIs
resampling sentences; and each annotator against the aggregated spans.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pandas as pd

from srcrel_core.spans import WORD, Span, SpanCounts, bootstrap_span_ci, count_spans, source_tokens

__all__ = ["SPAN_DROP_REASONS", "SourceSpans", "aggregate_spans", "read_spans", "span_agreement"]

SPAN_DROP_REASONS = ("not_sourced", "outside_text")
_EDGE = " \t\n\u00a0.,;:!?\"'«»“”‘’()[]{}-–—…"
AGGREGATION_RULE = ("token-level majority: a word is in the source when more than half of the annotators "
                    "who chose sourced marked it; consecutive such words form one span")


class SourceSpans:
    """The kept spans (one row per span) and the dropped ones, with their reconciliation."""

    def __init__(self, kept: pd.DataFrame, dropped: pd.DataFrame, read: int) -> None:
        self.kept, self.dropped, self.read = kept, dropped, read

    @property
    def counts(self) -> dict[str, Any]:
        reasons = Counter(self.dropped["reason"]) if len(self.dropped) else Counter()
        return {"read": self.read, "kept": len(self.kept),
                "dropped": {r: int(reasons.get(r, 0)) for r in SPAN_DROP_REASONS}}


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _EDGE:
        start += 1
    while end > start and text[end - 1] in _EDGE:
        end -= 1
    return start, end


def read_spans(annotations: pd.DataFrame, texts: pd.Series, *, sourced: str = "sourced") -> SourceSpans:
    """annotations: the long table (its `source_spans` column); texts: sentence text by task."""
    kept: list[tuple[Any, ...]] = []
    dropped: list[tuple[Any, ...]] = []
    read = 0
    column = annotations["source_spans"] if "source_spans" in annotations else pd.Series(dtype=object)
    marked = annotations.loc[column.notna()] if len(column) else annotations.iloc[:0]
    for row in marked.itertuples(index=False):
        text = str(texts.get(row.task, "") or "")
        for span in row.source_spans:
            read += 1
            start, end = int(span.get("start", -1)), int(span.get("end", -1))
            a, b = _trim(text, start, end) if 0 <= start < end <= len(text) else (0, 0)
            reason = "not_sourced" if str(row.label) != sourced else "outside_text" if a == b else None
            if reason:
                dropped.append((row.annotation_id, row.task, row.worker, start, end, reason))
                continue
            kept.append((row.annotation_id, row.task, row.worker, a, b, text[a:b]))
    return SourceSpans(
        pd.DataFrame(kept, columns=["annotation_id", "task", "worker", "start", "end", "text"]),
        pd.DataFrame(dropped, columns=["annotation_id", "task", "worker", "start", "end", "reason"]), read)


def _marks(spans: SourceSpans) -> dict[tuple[str, str], set[Span]]:
    out: dict[tuple[str, str], set[Span]] = defaultdict(set)
    for task, worker, start, end in zip(spans.kept["task"], spans.kept["worker"], spans.kept["start"],
                                        spans.kept["end"]):
        out[(str(task), str(worker))].add(((int(start), int(end)),))
    return out


def _voters(annotations: pd.DataFrame, sourced: str) -> dict[str, list[str]]:
    chose = annotations[annotations["label"].astype(str) == sourced]
    voters: dict[str, list[str]] = defaultdict(list)
    for task, worker in zip(chose["task"].astype(str), chose["worker"].astype(str)):
        voters[task].append(worker)
    return voters


def aggregate_spans(annotations: pd.DataFrame, spans: SourceSpans, texts: pd.Series, labels: pd.Series,
                    *, sourced: str = "sourced") -> pd.DataFrame:
    """Per sentence resolved as sourced: `source_span` [{start, end, text}] and `source_outside`."""
    marks, voters = _marks(spans), _voters(annotations, sourced)
    outside = ({(str(t), str(w)) for t, w, o in zip(annotations["task"], annotations["worker"],
                                                      annotations["source_outside"]) if o}
               if "source_outside" in annotations else set())
    rows = []
    for task in labels.index[labels.astype(str) == sourced]:
        task, text, who = str(task), str(texts.get(task, "") or ""), voters.get(str(task), [])
        votes: Counter[int] = Counter()
        for worker in who:
            votes.update(source_tokens(text, marks.get((task, worker), set())))
        need = len(who) / 2
        chosen = sorted(t for t, n in votes.items() if n > need)
        found = _runs(text, chosen)
        far = not found and sum((task, w) in outside for w in who) > need
        rows.append((task, [{"start": s, "end": e, "text": text[s:e]} for s, e in found], far, len(who)))
    return pd.DataFrame(rows, columns=["task", "source_span", "source_outside", "span_voters"]).set_index("task")


def _runs(text: str, starts: list[int]) -> list[tuple[int, int]]:
    """Token start offsets -> spans of consecutive tokens (only non-word characters between them)."""
    if not starts:
        return []
    tokens = [(m.start(), m.end()) for m in WORD.finditer(text)]
    index = {start: i for i, (start, _) in enumerate(tokens)}
    runs: list[list[int]] = []
    for start in starts:
        i = index[start]
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return [(tokens[a][0], tokens[b][1]) for a, b in runs]


def span_agreement(annotations: pd.DataFrame, spans: SourceSpans, texts: pd.Series,
                   consensus: pd.DataFrame, *, sourced: str = "sourced", bootstrap_n: int = 1000,
                   confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Pairwise exact and token F1 (with CIs) and each annotator against the aggregated spans."""
    marks, voters = _marks(spans), _voters(annotations, sourced)
    rows, pairs = [], 0
    for task, who in voters.items():
        if len(who) < 2:
            continue
        text, total = str(texts.get(task, "") or ""), SpanCounts()
        for a, b in itertools.combinations(sorted(who), 2):
            total += count_spans(marks.get((task, a), set()), marks.get((task, b), set()), text)
            pairs += 1
        rows.append(total.as_row())
    overall = SpanCounts(*np.asarray(rows, dtype=np.int64).sum(axis=0)) if rows else SpanCounts()
    scores = overall.scores()
    ci = bootstrap_span_ci(np.asarray(rows), n=bootstrap_n, confidence=confidence, seed=seed)
    per_worker: dict[str, SpanCounts] = defaultdict(SpanCounts)
    sentences: Counter[str] = Counter()
    for task, row in consensus.iterrows():
        agreed = {((int(s["start"]), int(s["end"])),) for s in row["source_span"]}
        for worker in voters.get(str(task), []):
            per_worker[worker] += count_spans(marks.get((str(task), worker), set()), agreed,
                                              str(texts.get(task, "") or ""))
            sentences[worker] += 1
    return {
        "sentences": len(rows), "pairs": pairs, "bootstrap_n": bootstrap_n, "confidence": confidence,
        **{f"{kind}_f1": _estimate(scores[f"{kind}_f1"], ci.get(f"{kind}_f1")) for kind in ("exact", "token")},
        "per_annotator": [{"worker": w, "sentences": sentences[w],
                           **{k: _round(v) for k, v in per_worker[w].scores().items() if k.endswith("f1")}}
                          for w in sorted(per_worker)],
        "spans": spans.counts,
        "aggregated": {"sentences": len(consensus),
                       "with_span": int(consensus["source_span"].map(bool).sum()) if len(consensus) else 0,
                       "outside": int(consensus["source_outside"].sum()) if len(consensus) else 0,
                       "rule": AGGREGATION_RULE},
    }


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 4)


def _estimate(value: float, ci: list[float] | None) -> dict[str, Any]:
    low, high = ci if ci else (None, None)
    return {"value": _round(value), "ci_low": None if low is None or math.isnan(low) else low,
            "ci_high": None if high is None or math.isnan(high) else high}
