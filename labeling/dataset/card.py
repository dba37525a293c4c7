"""The dataset card (DIR/README.md): Hugging Face YAML metadata, then the figures of report.json."""

from __future__ import annotations

import math
from typing import Any

import yaml

from labeling.dataset.citation import bibtex, column_glossary, license_lines, source_lines
from labeling.dataset.config import DatasetMeta
from labeling.dataset.loop_report import loop_statement

__all__ = ["render_card", "size_category"]


def size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return name
    return "10M<n<100M"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _ci(estimate: dict[str, Any], confidence: float = 0.95) -> str:
    value, low, high = estimate["value"], estimate["ci_low"], estimate["ci_high"]
    if _missing(value):
        return "undefined"
    if _missing(low):
        return f"{value:.3f}"
    return f"{value:.3f} ({confidence:.0%} CI {low:.3f}–{high:.3f})"


NO_AGREEMENT = ("Agreement cannot be measured: no sentence was labelled by two annotators. Have a sample "
                "labelled twice (push with project.maximum_annotations=2) to measure it.")


def render_card(report: dict[str, Any], *, license: str, pretty_name: str,
                simulated_annotators: bool, meta: DatasetMeta | None = None) -> str:
    about = meta or DatasetMeta()
    data, agreement = report["dataset"], report["agreement"]
    header = {
        "language": data["languages"] or ["und"],
        "license": license,
        "pretty_name": pretty_name,
        "size_categories": [size_category(data["rows"])],
        "task_categories": ["text-classification"],
        "tags": ["srcrel", "source-reliability", "news"],
    }
    lines = ["---", yaml.safe_dump(header, sort_keys=True, allow_unicode=True).rstrip(), "---", "",
             f"# {pretty_name}", ""]
    if simulated_annotators:
        lines += [("> **The annotators of this dataset were simulated** (seeded confusion matrices "
                   "applied to reference labels). Its agreement figures describe the simulation, "
                   "not human judgement. Do not use it as human-labelled data."), ""]
    if "blind" in report:
        lines += [f"**{report['blind']['statement']}**", ""]
    n = agreement["annotators"]
    lines += [(f"{data['rows']} news sentences labelled {', '.join(report['labels'])} by "
               f"{n} annotator{'s' if n != 1 else ''}, built by srcrel {report['srcrel_version']} "
               "from a Label Studio export."), ""]
    lines += source_lines(about, report)
    lines += _distribution(report) + _agreement(report) + _sources(report) + _aggregation(report)
    lines += column_glossary(list(report["labels"]), loop=bool(report.get("loop", {}).get("rounds")))
    loop = loop_statement(report.get("loop", {}))
    if loop:
        lines += ["## How the sentences were chosen (model in the loop)", "", *loop, ""]
    lines += ["## Known limitations", ""]
    lines += [f"- {item}" for item in _limitations(report)]
    lines += ["", *license_lines(license, about)]
    lines += ["## Citation", "", "```bibtex",
              bibtex(about, title=pretty_name, fingerprint=data["fingerprint"], version=report["srcrel_version"]),
              "```", "", "The same in Citation File Format: `CITATION.cff`."]
    return "\n".join(lines) + "\n"


def _distribution(report: dict[str, Any]) -> list[str]:
    splits = report["dataset"]["splits"]
    lines = ["## Label distribution", "", "| label | train | validation | test | all |",
             "|---|---|---|---|---|"]
    for label in report["labels"]:
        counts = [splits[s]["labels"].get(label, 0) for s in ("train", "validation", "test")]
        lines.append(f"| {label} | {' | '.join(map(str, counts))} | {sum(counts)} |")
    sizes = ", ".join(f"{s} {splits[s]['rows']} sentences / {splits[s]['articles']} articles"
                      for s in ("train", "validation", "test"))
    return [*lines, "", ("Splits are grouped by article (no article in two splits) and stratified "
                         f"by label as far as grouping allows: {sizes}."), ""]


def _agreement(report: dict[str, Any]) -> list[str]:
    agreement = report["agreement"]
    fleiss, level = agreement["fleiss_kappa"], agreement["confidence"]
    paired = agreement.get("paired_items", agreement["items"])
    if paired == 0:
        return ["## Agreement", "", NO_AGREEMENT, ""]
    lines = ["## Agreement", "",
             (f"Over the {paired} sentences labelled by at least two annotators (of {agreement['items']}), "
              f"{agreement['annotations']} annotations in all "
              f"({agreement['bootstrap_n']} bootstrap resamples of sentences, seed "
              f"{report['settings']['seed']}):"), "",
             f"- Observed agreement (mean share of agreeing pairs): {_ci(agreement['observed'], level)}",
             f"- Krippendorff's α (nominal): {_ci(agreement['krippendorff_alpha'], level)}",
             (f"- Fleiss' κ ({fleiss['n_items']} sentences with exactly "
              f"{agreement['fleiss_coverage']} labels): {_ci(fleiss, level)}")]
    lines += [f"- α for {label} vs the rest: {_ci(est, level)}"
              for label, est in agreement["per_label_alpha"].items()]
    return [*lines, "", ("Pairwise Cohen's κ: `plots/pairwise_kappa.png`; each annotator against "
                         "the consensus: `plots/confusion_vs_consensus.png`; all figures: "
                         "`report.json`."), ""]


def _sources(report: dict[str, Any]) -> list[str]:
    spans = report.get("source_spans")
    if not spans or not spans["spans"]["read"]:
        return []
    counts, agg = spans["spans"], spans["aggregated"]
    dropped = ", ".join(f"{k} {v}" for k, v in counts["dropped"].items() if v) or "none"
    lines = ["## Who is the source", "",
             (f"On sentences labelled {spans['label']}, annotators marked the words naming the source: "
              f"{counts['read']} spans read, {counts['kept']} kept (dropped: {dropped}; `dropped_spans.csv`). "
              f"`source_span` per sentence: {agg['rule']}; {agg['with_span']} of {agg['sentences']} "
              f"{spans['label']} sentences have one, {agg['outside']} have the source outside the sentence "
              "(`source_outside`). The spans are also in `attributions.jsonl` (attribution JSONL)."), ""]
    if not spans["pairs"]:
        return [*lines, "No sentence had two annotators who both chose sourced: span agreement cannot be measured.", ""]
    level = spans["confidence"]
    return [*lines,
            (f"Span agreement over {spans['pairs']} annotator pairs on {spans['sentences']} sentences "
             "(pairwise F1; PolNeAR's human ceiling by the same measure: 0.78 exact, 0.81 token):"), "",
            f"- exact match F1: {_ci(spans['exact_f1'], level)}",
            f"- token F1: {_ci(spans['token_f1'], level)}", ""]


def _aggregation(report: dict[str, Any]) -> list[str]:
    aggregation = report["aggregation"]
    method = aggregation["method"]
    if method == "majority":
        method += f" (ties: {aggregation['tie_policy']})"
    sources = ", ".join(f"{k} {v}" for k, v in aggregation["label_sources"].items())
    versions = ", ".join(f"`{v}` ({n} sentences)" for v, n in report["guidelines_versions"].items())
    return ["## Annotation and aggregation", "",
            f"- Annotators: {report['agreement']['annotators']}",
            f"- Aggregation: {method}",
            *([f"- Overlap: {report['overlap']['statement']}"] if "overlap" in report else []),
            f"- Label sources: {sources}",
            f"- Guidelines version(s): {versions or 'unknown'}",
            f"- Export sha256: `{report['export']['sha256']}`",
            f"- Dataset fingerprint: `{report['dataset']['fingerprint']}`",
            ("- `soft_label` holds each sentence's label distribution over annotators; "
             "`annotations` the individual answers (annotator ids only, no names or emails)."), ""]


def _limitations(report: dict[str, Any]) -> list[str]:
    aggregation, rec = report["aggregation"], report["export"]["reconciliation"]
    items = []
    if report["dataset"].get("split_note"):
        items.append(report["dataset"]["split_note"][0].upper() + report["dataset"]["split_note"][1:] + ".")
    if aggregation["unresolved"]:
        items.append(f"{aggregation['unresolved']} tied sentences were left out (sent to "
                     "adjudication, `adjudication_queue.csv`).")
    dropped = {k: v for k, v in rec["dropped"].items() if v}
    if dropped:
        items.append(f"{sum(dropped.values())} of {rec['exported']} exported annotations were not "
                     "used: " + ", ".join(f"{k} {v}" for k, v in dropped.items()) + ".")
    if len(report["guidelines_versions"]) > 1:
        items.append("Sentences were labelled under several guidelines versions.")
    if report["dataset"]["single_annotation_rows"]:
        items.append(f"{report['dataset']['single_annotation_rows']} sentences have a single "
                     "annotation (agreement is undefined for them).")
    issues = report["label_issues"]
    if issues["flagged"]:
        share = issues["flagged"] / max(issues["checked"] or report["dataset"]["rows"], 1)
        caveat = ("" if report["dataset"]["rows"] >= 1000 else
                  f" At {report['dataset']['rows']} sentences that classifier is weak, so most flags are likely its "
                  "own errors, not the annotators': read them as a list to review, not as an error rate.")
        items.append(f"{issues['flagged']} sentences ({share:.0%}) look mislabelled to a cross-validated text "
                     f"classifier (`label_issues.csv`, confident learning); they were not changed.{caveat}")
    items.append("Label boundaries (sourced / opinion / unverifiable) involve judgement; see the "
                 "agreement figures before treating labels as ground truth.")
    return items
