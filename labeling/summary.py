"""What a stage shows a person: a progress bar on a terminal (silent in logs and CI) and a
one-screen summary at the end."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from labeling.errors import ConfigError

if TYPE_CHECKING:
    from labeling.ingest import IngestResult

__all__ = ["check_progress_mode", "console", "print_agreement_summary", "print_ingest_summary", "progress_bar"]

# 120 columns when not on a terminal: tables in logs and CI stay readable
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


_PROGRESS_MODES = ("auto", "always", "never")


def check_progress_mode(mode: str) -> None:
    """Stages call this with their other checks, before any work starts."""
    if mode not in _PROGRESS_MODES:
        raise ConfigError(f"progress={mode}: use auto, always or never")


@contextmanager
def progress_bar(label: str, *, total: int, mode: str = "auto") -> Iterator[Callable[[], None]]:
    """Yield an `advance()` callable; draw a bar only on an interactive terminal (or mode=always)."""
    check_progress_mode(mode)
    show = mode == "always" or (mode == "auto" and sys.stderr.isatty())
    if not show:
        yield lambda: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


def print_ingest_summary(result: IngestResult) -> None:
    table = Table(title=f"srcrel ingest -> {result.output_dir}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    skipped = sum(result.files_skipped.values())
    table.add_row("files", f"{result.files_found} found, {result.files_read} read, {skipped} skipped"
                  + (f" {result.files_skipped}" if skipped else ""))
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


def _ci(estimate: dict[str, Any]) -> str:
    value, low, high = estimate.get("value"), estimate.get("ci_low"), estimate.get("ci_high")
    if value is None or math.isnan(value):  # not computable on this data
        return "n/a"
    if low is None or math.isnan(low):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def print_agreement_summary(report: dict[str, Any], *, title: str) -> None:
    """The agreement figures of a build's report.json, with their bootstrap CIs."""
    agreement = report["agreement"]
    pct = round(agreement["confidence"] * 100)
    table = Table(title=title, title_justify="left")
    table.add_column("measure", style="bold")
    table.add_column(f"estimate [{pct}% CI]")
    table.add_column("items", justify="right")
    rows = [("observed agreement", agreement["observed"]),
            ("Krippendorff's alpha (nominal)", agreement["krippendorff_alpha"]),
            ("Fleiss' kappa (equal coverage)", agreement["fleiss_kappa"])]
    rows += [(f"alpha, {label} vs rest", est) for label, est in agreement["per_label_alpha"].items()]
    rows += [(f"Cohen's kappa {p['worker_a']} / {p['worker_b']}", p) for p in agreement["pairwise_cohen_kappa"]]
    for name, estimate in rows:
        table.add_row(name, _ci(estimate), str(estimate.get("n_items", "")))
    console.print(table)
    annotators = Table(title="annotators", title_justify="left")
    for column in ("worker", "items", "median lead time (s)", "control accuracy", "agreement with consensus"):
        annotators.add_column(column)
    for row in report["annotators"]:
        def fmt(value: Any, spec: str = ".3f") -> str:
            return "n/a" if value is None else format(value, spec)
        annotators.add_row(str(row["worker"]), str(row.get("items", "")), fmt(row.get("median_lead_time"), ".1f"),
                           fmt(row.get("control_accuracy")), fmt(row.get("consensus_agreement")))
    console.print(annotators)
