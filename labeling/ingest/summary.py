"""What an ingest run reports: its counts (IngestResult) and their one-screen summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from labeling.ingest.read import Problem
from srcrel_core.progress import console

__all__ = ["IngestResult", "print_ingest_summary"]


@dataclass(frozen=True)
class IngestResult:
    output_dir: Path
    files_found: int
    files_read: int
    files_skipped: dict[str, int]
    articles_read: int
    articles_kept: int
    articles_dropped: dict[str, int]
    sentences: int
    sentences_by_lang: dict[str, int]
    boilerplate_sentences: int
    problems: tuple[Problem, ...]
    reference: dict[str, Any] | None = None
    encodings: dict[str, str] = field(default_factory=dict)  # file -> the encoding it was read with


def print_ingest_summary(result: IngestResult) -> None:
    table = Table(title=f"srcrel ingest -> {result.output_dir}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    skipped = sum(result.files_skipped.values())
    table.add_row("files", f"{result.files_found} found, {result.files_read} read, {skipped} skipped"
                  + (f" {result.files_skipped}" if skipped else ""))
    if result.encodings:
        table.add_row("encodings", _encodings(result.encodings))
    dropped = sum(result.articles_dropped.values())
    table.add_row("articles", f"{result.articles_read} read = {result.articles_kept} kept + {dropped} dropped"
                  + (f" {result.articles_dropped}" if dropped else ""))
    by_lang = ", ".join(f"{lang} {n}" for lang, n in result.sentences_by_lang.items())
    table.add_row("sentences", f"{result.sentences} ({by_lang}); {result.boilerplate_sentences} flagged boilerplate")
    if result.reference is not None:
        ref = result.reference
        mix = ", ".join(f"{label} {n}" for label, n in ref["label_mix"].items())
        table.add_row("reference labels", f"{ref['matched']} matched ({mix}); {ref['unmatched_rows']} unmatched rows, "
                      f"{ref['sentences_without_reference']} sentences without one")
        for lang, counts in ref["label_mix_by_lang"].items():
            table.add_row(f"  {lang}", ", ".join(f"{label} {n}" for label, n in counts.items()))
    table.add_row("problems", f"{len(result.problems)}" + ("" if not result.problems else
                  f" ({sum(p.action == 'skipped' for p in result.problems)} skipped, "
                  f"{sum(p.action == 'warned' for p in result.problems)} warnings; see manifest.json)"))
    table.add_row("outputs", "sentences.jsonl, articles.jsonl, tasks.json, manifest.json"
                  + (", reference_labels.jsonl" if result.reference is not None else ""))
    console.print(table)


def _encodings(encodings: dict[str, str]) -> str:
    """'utf-8 12; latin-1: a.txt; utf-16: b.txt': the files not in UTF-8 by name (up to 5 each)."""
    counts = Counter(encodings.values())
    parts = []
    for name, n in counts.most_common():
        files = [f for f, e in encodings.items() if e == name]
        if name == "utf-8" or n > 5:
            parts.append(f"{name} {n}")
        else:
            parts.append(f"{name}: {', '.join(files)}")
    return "; ".join(parts)
