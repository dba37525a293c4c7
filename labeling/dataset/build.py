"""`srcrel build`: Label Studio export -> agreement, aggregation, DatasetDict, card, report.

Reads:  export (raw JSON snapshot + optional <export>.meta.json), optional controls, sentences
        and adjudications files.
Writes: DIR/dataset/, DIR/parquet/<split>.parquet, DIR/README.md, DIR/report.json,
        DIR/provenance.json, DIR/plots/*.png, DIR/label_issues.csv, DIR/adjudication_queue.csv,
        DIR/dropped_annotations.csv, DIR/dropped_spans.csv, DIR/attributions.jsonl (the source spans); staged beside DIR and moved in only when all are written.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq

from labeling.annotations.aggregate import Aggregation, Method, TiePolicy, aggregate
from labeling.annotations.agreement import AgreementReport, compute_agreement
from labeling.annotations.annotators import annotator_stats, confusion_against_consensus
from labeling.annotations.blind import blind_status, read_gateway_record
from labeling.annotations.decisions import (
    apply_adjudications,
    read_adjudications,
    select_for_adjudication,
)
from labeling.annotations.export import ParsedExport, parse_export, read_controls
from labeling.annotations.label_issues import LabelIssues, find_likely_label_errors
from labeling.annotations.overlap import OverlapReport, apply_overlap
from labeling.annotations.table import count_labels, item_agreement
from labeling.dataset.card import render_card
from labeling.dataset.citation import bibtex, citation_cff, dataset_warnings
from labeling.dataset.config import BuildConfig
from labeling.dataset.loop_report import loop_report
from labeling.dataset.source_spans import (
    SpanBuild,
    build_spans,
    span_items,
    write_dataset_attributions,
)
from labeling.dataset.splits import SPLITS, BuiltDataset, build_dataset
from labeling.dataset.summary import print_build_summary
from srcrel_core import __version__
from srcrel_core.errors import ConfigError, ExportError, InputError
from srcrel_core.io import check_output_folder, staged_output
from srcrel_core.labelset import load_label_set
from srcrel_core.settings import to_dataclass

__all__ = ["BuildResult", "run_build", "run_from_config"]

_METADATA = ("article_id", "text", "prev_text", "next_text", "lang", "title", "url", "outlet",
             "published")


@dataclass(frozen=True)
class BuildResult:
    output_dir: Path
    fingerprint: str
    rows: int
    report: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, not in report.json


class _Laps:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 2)
        self._last = now


def run_from_config(cfg: Any) -> BuildResult:
    config = to_dataclass(cfg, BuildConfig)
    result = run_build(config)
    print_build_summary(result.report, output_dir=str(result.output_dir), fingerprint=result.fingerprint,
                        rows=result.rows)
    print(f"srcrel build: {result.rows} sentences, fingerprint {result.fingerprint} -> "
          f"{result.output_dir}", file=sys.stderr)
    return result


def _check_options(config: BuildConfig) -> None:
    check_output_folder(Path(config.output_dir))
    if config.dataset.citation:
        bibtex(config.dataset, title="", fingerprint="", version="")  # a bad entry or path: one line, now
    for key, value, allowed in (("aggregation.method", config.aggregation.method, tuple(Method)),
                                ("aggregation.tie_policy", config.aggregation.tie_policy, tuple(TiePolicy))):
        if value not in allowed:
            raise ConfigError(f"{key}={value!r} is not one of {', '.join(allowed)}; "
                              f"e.g. {key}={allowed[0]}")
    if not 0 < config.agreement.confidence < 1 or config.agreement.bootstrap_n < 0:
        raise ConfigError("agreement.confidence must be in (0, 1) and agreement.bootstrap_n >= 0; "
                          "e.g. agreement.confidence=0.95 agreement.bootstrap_n=1000")


def _read_sentences(path: Path, wanted: set[str]) -> pd.DataFrame:
    """Ingest sentences.jsonl rows for `wanted` ids, in srcrel's column names."""
    if not path.is_file():
        raise InputError(f"sentences file {path} not found; pass sentences=PATH to the ingest "
                         "sentences.jsonl or sentences=null")
    rows = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                record = orjson.loads(line) if line.strip() else None
            except orjson.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not JSON ({exc}); re-run `srcrel ingest`") from exc
            if record and str(record.get("sentence_id")) in wanted:
                rows.append({"sentence_id": str(record["sentence_id"]),
                             **{k: str(record.get(k) or "") for k in _METADATA},
                             "char_start": record.get("char_start")})  # source spans' article offsets
    return pd.DataFrame(rows, columns=["sentence_id", *_METADATA, "char_start"]).set_index("sentence_id")


def _items(parsed: ParsedExport, agg: Aggregation, agreement: pd.Series,
           sentences: pd.DataFrame | None) -> pd.DataFrame:
    resolved = agg.labels.dropna()
    meta = parsed.tasks.reindex(resolved.index)
    for column in ("url", "outlet", "published"):
        meta[column] = ""
    if sentences is not None:
        extra = sentences.reindex(resolved.index).fillna("")
        for column in _METADATA:  # the export wins; ingest fills what it lacks
            meta[column] = meta[column].where(meta[column].fillna("") != "", extra[column])
        meta["char_start"] = sentences["char_start"].reindex(resolved.index).to_numpy()
    soft = agg.soft_labels.reindex(resolved.index).to_numpy(dtype=np.float32)
    return meta.assign(sentence_id=resolved.index, label=resolved.to_numpy(),
                       label_source=agg.label_source.reindex(resolved.index).to_numpy(),
                       soft_label=list(soft), agreement=agreement.reindex(resolved.index).to_numpy()
                       ).reset_index(drop=True)


def _report(config: BuildConfig, labels: tuple[str, ...], parsed: ParsedExport,
            agreement: AgreementReport, agg: Aggregation, stats: pd.DataFrame, queue: pd.DataFrame,
            built: BuiltDataset, issues: LabelIssues, overlap: OverlapReport, spans: SpanBuild) -> dict[str, Any]:
    rec = parsed.reconciliation
    splits = {}
    for name in SPLITS:
        part = built.dataset[name].data  # Arrow columns: iterating a Dataset goes row by row
        codes = part.column("label").to_numpy()
        splits[name] = {"rows": part.num_rows,
                        "articles": len(part.column("article_id").unique()),
                        "labels": {labels[i]: int(n) for i, n in
                                   enumerate(np.bincount(codes, minlength=len(labels)))}}
    counts = count_labels(parsed.annotations, labels).sum(axis=1)
    kept_rows = built.split_of.index
    versions = parsed.tasks.reindex(kept_rows)["guidelines_version"].fillna("").value_counts()
    return {
        "srcrel_version": __version__,
        "labels": list(labels),
        "settings": {"seed": config.seed, "aggregation": asdict(config.aggregation),
                     "agreement": asdict(config.agreement),
                     "label_issues": asdict(config.label_issues), "splits": asdict(config.splits),
                     "overlap_answers": str(config.overlap_answers)},
        "export": {"file": parsed.path.name, "sha256": parsed.sha256, "tasks": parsed.n_tasks,
                   "reconciliation": {**asdict(rec), "balanced": rec.balanced}},
        "overlap": {**asdict(overlap), "statement": overlap.statement},
        "blind": blind_status(parsed.annotations, read_gateway_record(parsed.path)),
        "agreement": {
            "items": agreement.n_items, "paired_items": int((counts >= 2).sum()),
            "annotations": agreement.n_annotations,
            "annotators": agreement.n_workers, "bootstrap_n": agreement.bootstrap_n,
            "confidence": agreement.confidence,
            "observed": asdict(agreement.observed),
            "krippendorff_alpha": asdict(agreement.krippendorff_alpha),
            "fleiss_kappa": asdict(agreement.fleiss_kappa),
            "fleiss_coverage": agreement.fleiss_coverage,
            "per_label_alpha": {k: asdict(v) for k, v in agreement.per_label_alpha.items()},
            "pairwise_cohen_kappa": [{"worker_a": p.worker_a, "worker_b": p.worker_b,
                                      **asdict(p.kappa)} for p in agreement.pairwise_kappa],
        },
        "annotators": [{"worker": worker, **{k: (None if pd.isna(v) else v) for k, v in row.items()}}
                       for worker, row in stats.astype(object).iterrows()],
        "aggregation": {
            "method": agg.method, "tie_policy": config.aggregation.tie_policy,
            "items": len(agg.labels), "unresolved": len(agg.unresolved),
            "label_sources": {k: int(v) for k, v in agg.label_source[agg.labels.notna()]
                              .value_counts().sort_index().items()},
            "adjudication_queue": len(queue),
            "worker_confusions": {w: m.to_numpy().round(6).tolist() for w, m in agg.confusions.items()},
            "worker_skills": agg.skills,
        },
        "dataset": {"fingerprint": built.fingerprint, "rows": len(kept_rows), "splits": splits,
                    "languages": sorted({str(x) for s in SPLITS
                                         for x in built.dataset[s].data.column("lang").unique().to_pylist()
                                         if x}),
                    "single_annotation_rows": int((counts.reindex(kept_rows) < 2).sum()),
                    "split_by": "sentence" if built.split_note else "article", "split_note": built.split_note,
                    "outlets": sorted({str(x) for s in SPLITS
                                       for x in built.dataset[s].data.column("outlet").unique().to_pylist() if x})},
        "label_issues": {"enabled": config.label_issues.enabled, "checked": issues.n_checked,
                         "flagged": len(issues.ranked), "skipped_reason": issues.skipped_reason},
        "guidelines_versions": {str(k): int(v) for k, v in versions.sort_index().items()},
        "loop": loop_report(parsed.annotations, parsed.tasks, confidence=config.agreement.confidence),
        "source_spans": spans.report,
    }


def _write(out: Path, *, built: BuiltDataset, report: dict[str, Any], card: str,
           provenance: dict[str, Any], parsed: ParsedExport, queue: pd.DataFrame,
           issues: LabelIssues, agreement: AgreementReport, agg: Aggregation,
           labels: tuple[str, ...], plots: bool, spans: SpanBuild, items: pd.DataFrame) -> None:
    from datasets.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    if not sys.stderr.isatty():
        hf_logging.disable_progress_bar()  # bars only on an interactive terminal
    try:
        built.dataset.save_to_disk(str(out / "dataset"))
    finally:
        if shown:
            hf_logging.enable_progress_bar()
    (out / "parquet").mkdir()
    for name in SPLITS:
        pq.write_table(built.dataset[name].data.table, out / "parquet" / f"{name}.parquet")
    for name, content in (("report.json", report), ("provenance.json", provenance)):
        (out / name).write_bytes(orjson.dumps(content, option=orjson.OPT_INDENT_2
                                              | orjson.OPT_SERIALIZE_NUMPY))
    (out / "README.md").write_text(card, encoding="utf-8")
    queue.to_csv(out / "adjudication_queue.csv", index=False)
    issues.ranked.to_csv(out / "label_issues.csv", index=False)
    parsed.dropped.to_csv(out / "dropped_annotations.csv", index=False)
    spans.spans.dropped.to_csv(out / "dropped_spans.csv", index=False)
    write_dataset_attributions(out / "attributions.jsonl", items)
    if plots:
        from labeling.dataset.plots import plot_confusions, plot_pairwise_kappa

        (out / "plots").mkdir()
        if agreement.pairwise_kappa:  # no pair of annotators shares a sentence: nothing to draw
            plot_pairwise_kappa(agreement.pairwise_kappa, out / "plots" / "pairwise_kappa.png")
        consensus = agg.labels[agg.label_source != "control"].dropna()
        plot_confusions(confusion_against_consensus(parsed.annotations, consensus, labels=labels),
                        labels, out / "plots" / "confusion_vs_consensus.png")


def run_build(config: BuildConfig) -> BuildResult:
    """Build the dataset directory from an export; nothing is written unless everything succeeds."""
    _check_options(config)
    label_set = load_label_set(config.label_set)
    labels = label_set.names
    controls = read_controls(config.controls, label_names=labels) if config.controls else None
    decisions = read_adjudications(config.adjudications, label_names=labels) if config.adjudications else None
    clock = _Laps()
    parsed = parse_export(config.export, label_names=labels, controls=controls,
                          from_name=config.from_name)
    clock.lap("parse_export")
    parsed, overlap = apply_overlap(parsed, config.overlap_answers)
    table = parsed.annotations
    if table.empty:
        dropped = parsed.reconciliation.dropped
        if dropped.get("unknown_label", 0) and dropped["unknown_label"] >= max(dropped.values()):
            raise ExportError(f"{parsed.path}: none of its {parsed.reconciliation.exported} annotations is usable "
                              f"({dropped}): their labels are not in label_set={config.label_set} "
                              f"({', '.join(labels)}); pass the label set the project was pushed with, "
                              "e.g. label_set=default")
        raise ExportError(f"{parsed.path}: none of its {parsed.reconciliation.exported} annotations "
                          f"is usable ({dropped}); annotate in Label Studio and pull again")
    agreement = compute_agreement(table, labels=labels, bootstrap_n=config.agreement.bootstrap_n,
                                  confidence=config.agreement.confidence, seed=config.seed,
                                  min_pair_items=config.agreement.min_pair_items,
                                  threads=config.agreement.threads)
    clock.lap("agreement")
    per_item = item_agreement(count_labels(table, labels))
    agg = aggregate(table, labels=labels, method=config.aggregation.method,
                    tie_policy=config.aggregation.tie_policy,
                    label_order=config.aggregation.label_order, seed=config.seed,
                    n_iter=config.aggregation.n_iter, controls=controls)
    clock.lap("aggregation")
    queue = select_for_adjudication(agg, per_item, threshold=config.agreement.adjudication_threshold)
    if decisions is not None:
        agg = apply_adjudications(agg, decisions)
    # the reference for accuracy: srcrel's control answers, then Label Studio ground truth
    reference = parsed.ground_truth if controls is None else \
        pd.concat([parsed.ground_truth[~parsed.ground_truth.index.isin(controls.index)], controls])
    stats = annotator_stats(table, agg.labels[agg.label_source != "control"].dropna(), reference)
    sentences = (_read_sentences(Path(config.sentences), set(agg.labels.index))
                 if config.sentences else None)
    spans = build_spans(table, parsed.tasks["text"], agg.labels, sourced=config.source_label,
                        bootstrap_n=config.agreement.bootstrap_n, confidence=config.agreement.confidence,
                        seed=config.seed)
    items = span_items(_items(parsed, agg, per_item, sentences), spans.consensus)
    built = build_dataset(items, spans.annotations, label_names=labels, validation=config.splits.validation,
                          test=config.splits.test, seed=config.seed)
    clock.lap("dataset")
    issues = (find_likely_label_errors(items, label_names=labels, n_splits=config.label_issues.n_splits,
                                       max_features=config.label_issues.max_features,
                                       max_iter=config.label_issues.max_iter, seed=config.seed)
              if config.label_issues.enabled else LabelIssues(pd.DataFrame(), 0, "disabled"))
    clock.lap("label_issues")
    report = _report(config, labels, parsed, agreement, agg, stats, queue, built, issues, overlap, spans)
    license = config.dataset.license or config.card.license
    card = render_card(report, license=license, pretty_name=config.card.pretty_name,
                       simulated_annotators=config.card.simulated_annotators, meta=config.dataset)
    cff = citation_cff(config.dataset, title=config.card.pretty_name, license=license,
                       fingerprint=built.fingerprint, version=__version__)
    provenance = {"dataset_fingerprint": built.fingerprint, "export_sha256": parsed.sha256,
                  "guidelines_version": sorted(report["guidelines_versions"]),
                  "label_names": list(labels), "srcrel_version": __version__,
                  "warnings": dataset_warnings(report, simulated=config.card.simulated_annotators)}

    # staged beside DIR and moved in at the end, provenance.json last: it marks a complete build
    with staged_output(Path(config.output_dir), last=("provenance.json",)) as staging:
        (staging / "CITATION.cff").write_text(cff, encoding="utf-8")
        _write(staging, built=built, report=report, card=card, provenance=provenance,
               parsed=parsed, queue=queue, issues=issues, agreement=agreement, agg=agg,
               labels=labels, plots=config.agreement.plots, spans=spans, items=items)
    clock.lap("write")
    return BuildResult(Path(config.output_dir), built.fingerprint, len(items), report, clock.seconds)
