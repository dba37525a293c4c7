"""`srcrel build`'s who-is-the-source part: the annotators' spans onto the long table and the
items, the span agreement for report.json, the dropped spans for `dropped_spans.csv`, and the
dataset's spans written out as attribution JSONL (`attributions.jsonl`, srcrel_core/attributions.py)
so other tools can read them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from labeling.annotations.spans import SourceSpans, aggregate_spans, read_spans, span_agreement
from srcrel_core.attributions import Attribution, AttributionDoc, write_attributions
from srcrel_core.spans import place_sentences

__all__ = ["SpanBuild", "build_spans", "span_items", "write_dataset_attributions"]


@dataclass(frozen=True)
class SpanBuild:
    annotations: pd.DataFrame  # the long table with `kept_spans` (trimmed, kept spans per annotation)
    consensus: pd.DataFrame  # by task: source_span, source_outside, span_voters
    report: dict[str, Any]
    spans: SourceSpans


def build_spans(table: pd.DataFrame, texts: pd.Series, labels: pd.Series, *, sourced: str,
                bootstrap_n: int, confidence: float, seed: int) -> SpanBuild:
    """Spans read, trimmed, dropped with reasons, aggregated over `labels` (resolved labels by task)."""
    if "source_spans" not in table:
        table = table.assign(source_spans=None, source_outside=False)
    spans = read_spans(table, texts, sourced=sourced)
    by_annotation: dict[Any, list[dict[str, Any]]] = {}
    for row in spans.kept.itertuples(index=False):
        by_annotation.setdefault(row.annotation_id, []).append(
            {"start": int(row.start), "end": int(row.end), "text": row.text})
    table = table.assign(kept_spans=[by_annotation.get(a, []) for a in table["annotation_id"]])
    consensus = aggregate_spans(table, spans, texts, labels.dropna(), sourced=sourced)
    report = span_agreement(table, spans, texts, consensus, sourced=sourced, bootstrap_n=bootstrap_n,
                            confidence=confidence, seed=seed)
    return SpanBuild(table, consensus, {"label": sourced, **report}, spans)


def span_items(items: pd.DataFrame, consensus: pd.DataFrame) -> pd.DataFrame:
    """items + source_span (with article offsets when `char_start` is known) and source_outside."""
    found = consensus.reindex(items["sentence_id"])
    starts = (pd.to_numeric(items["char_start"], errors="coerce") if "char_start" in items
              else pd.Series([float("nan")] * len(items)))
    spans = []
    for span_list, base in zip(found["source_span"], starts):
        known = not pd.isna(base)
        spans.append([{**s, "article_start": int(base) + s["start"] if known else None,
                       "article_end": int(base) + s["end"] if known else None}
                      for s in (span_list if isinstance(span_list, list) else [])])
    return items.assign(source_span=spans, source_outside=found["source_outside"].fillna(False).astype(bool).to_numpy())


def write_dataset_attributions(path: Path, items: pd.DataFrame) -> int:
    """One attribution line per article: its sentences placed at their article offsets (the gaps
    filled with spaces) and each aggregated source span; articles without offsets are joined with
    one space between sentences, in sentence order."""
    docs = []
    for article, group in items.groupby("article_id", sort=True):
        group = group.sort_values("sentence_id", kind="stable")
        starts = pd.to_numeric(group["char_start"], errors="coerce") if "char_start" in group else None
        ordered = group.assign(at_=starts).sort_values("at_", kind="stable") if starts is not None else group
        at = [None if pd.isna(v) else int(v) for v in ordered["at_"]] if starts is not None else None
        text, offsets = place_sentences([str(t) for t in ordered["text"]], at)
        attributions = [Attribution(source=((o + s["start"], o + s["end"]),))
                        for o, spans in zip(offsets, ordered["source_span"], strict=True) for s in spans]
        docs.append(AttributionDoc(str(article), text, tuple(attributions), annotator="srcrel-consensus"))
    return write_attributions(path, docs)
