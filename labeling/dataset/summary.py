"""The one-screen summary of a build: agreement with its CIs, and the annotators."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from labeling.dataset.card import NO_AGREEMENT
from srcrel_core.progress import console

__all__ = ["print_agreement_summary", "print_build_summary"]


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
    if agreement.get("paired_items", agreement["items"]) == 0:
        console.print(NO_AGREEMENT)
    else:
        _print_agreement_table(agreement, title=title)
    if report.get("overlap", {}).get("items_over"):
        console.print(report["overlap"]["statement"])
    _print_sources(report.get("source_spans"))
    _print_annotators(report)


def _print_sources(spans: dict[str, Any] | None) -> None:
    if not spans or not spans["spans"]["read"]:
        return
    counts, agg = spans["spans"], spans["aggregated"]
    console.print(f"who is the source: {counts['read']} spans = {counts['kept']} kept + "
                  f"{sum(counts['dropped'].values())} dropped {counts['dropped']}; {agg['with_span']} of "
                  f"{agg['sentences']} {spans['label']} sentences have a source span, {agg['outside']} a source "
                  "outside the sentence")
    if spans["pairs"]:
        console.print(f"span agreement ({spans['pairs']} pairs, {spans['sentences']} sentences; PolNeAR's human "
                      f"ceiling 0.78 / 0.81): exact F1 {_ci(spans['exact_f1'])}, token F1 {_ci(spans['token_f1'])}")


def _print_agreement_table(agreement: dict[str, Any], *, title: str) -> None:
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


def _print_annotators(report: dict[str, Any]) -> None:
    annotators = Table(title="annotators", title_justify="left")
    for column in ("worker", "items", "median lead time (s)", "control accuracy", "agreement with consensus"):
        annotators.add_column(column)
    for row in report["annotators"]:
        def fmt(value: Any, spec: str = ".3f") -> str:
            return "n/a" if value is None else format(value, spec)
        annotators.add_row(str(row["worker"]), str(row.get("items", "")), fmt(row.get("median_lead_time"), ".1f"),
                           fmt(row.get("control_accuracy")), fmt(row.get("consensus_agreement")))
    console.print(annotators)


def print_build_summary(report: dict[str, Any], *, output_dir: str, fingerprint: str, rows: int,
                        title: str = "") -> None:
    """What `srcrel build` (and the demo) print: the export's counts, the agreement, the splits,
    the adjudication queue and where the dataset is."""
    rec = report["export"]["reconciliation"]
    dropped = sum(rec["dropped"].values())
    console.print(f"annotations: {rec['exported']} exported = {rec['kept']} kept + {dropped} dropped"
                  + (f" {rec['dropped']}" if dropped else ""))
    print_agreement_summary(report, title=title or f"agreement ({report['agreement']['items']} sentences)")
    splits = ", ".join(f"{name} {s['rows']} ({s['articles']} articles)"
                       for name, s in report["dataset"]["splits"].items())
    queue = report["aggregation"]["adjudication_queue"]
    console.print(f"{queue} sentence(s) tied or below the agreement threshold: a person settles them with "
                  f"`srcrel adjudicate push build={output_dir} project.name=...`")
    if report["dataset"].get("split_note"):
        console.print(report["dataset"]["split_note"])
    console.print(f"dataset: {rows} sentences, labels by {report['aggregation']['method']}; {splits}\n"
                  f"fingerprint {fingerprint}: {output_dir} (card: README.md, figures: report.json)")
