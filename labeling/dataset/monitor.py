"""`srcrel monitor project.name=NAME output=DIR`: a campaign monitor.

Each regeneration pulls the project afresh (every task, so the task count is the project's;
DIR/pull/ keeps the latest export and its sidecar), reads it into the long table and writes
DIR/monitor.json (every figure) and DIR/monitor.html (one self-contained page: inline SVG, no
script, nothing fetched), each atomically. `every=MIN` regenerates them until Ctrl-C.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from labeling.annotations.aggregate import aggregate
from labeling.annotations.agreement import Estimate, compute_agreement
from labeling.annotations.annotators import annotator_stats
from labeling.annotations.export import ParsedExport, parse_export, read_controls
from labeling.annotations.overlap import configured_overlap
from labeling.annotations.spans import read_spans, span_agreement
from labeling.dataset.config import MonitorConfig
from labeling.dataset.monitor_page import render_page
from labeling.studio.config import PullConfig
from labeling.studio.ledger import state_dir_for
from labeling.studio.pull import pull_export, user_emails
from srcrel_core.errors import ConfigError, SrcrelError
from srcrel_core.io import atomic_write
from srcrel_core.labelset import load_label_set
from srcrel_core.settings import to_dataclass

__all__ = ["MonitorResult", "compute_figures", "generate_monitor", "run_from_config", "run_monitor"]

# answers that were given (not skipped) but that the long table does not keep
_ANSWERED_DROPS = ("empty_result", "multiple_labels", "unknown_label")
NO_OVERLAP = ("Agreement cannot be measured yet: no sentence has two answers. Push with "
              "project.maximum_annotations=2 or more (with project.overlap_share=0.2, a fifth of the "
              "sentences get a second annotator) so that agreement can be measured.")


@dataclass(frozen=True)
class MonitorResult:
    html_path: Path
    json_path: Path
    figures: dict[str, Any]


def run_from_config(cfg: Any) -> MonitorResult:
    return run_monitor(to_dataclass(cfg, MonitorConfig))


def run_monitor(config: MonitorConfig, *, sleep: Callable[[float], None] = time.sleep) -> MonitorResult:
    """Generate the page once, then every `config.every` minutes until Ctrl-C."""
    _check(config)
    result = generate_monitor(config)
    _announce(result)
    if config.every <= 0:
        return result
    try:
        while True:
            sleep(config.every * 60)
            try:
                result = generate_monitor(config)
            except SrcrelError as exc:  # a server restart must not end a campaign's monitor
                print(f"srcrel monitor: {exc} (the page keeps its previous figures; next try in "
                      f"{config.every:g} min)", file=sys.stderr)
                continue
            _announce(result)
    except KeyboardInterrupt:
        print("srcrel monitor: stopped", file=sys.stderr)
    return result


def _announce(result: MonitorResult) -> None:
    progress = result.figures["progress"]
    print(f"{result.figures['generated_at']}: {progress['annotations']} annotation(s), "
          f"{progress['sentences_done']}/{progress['tasks']} sentences done -> {result.html_path}")


def _check(config: MonitorConfig) -> None:
    if config.every < 0 or not 0 <= config.flag_below <= 1 or not 0 <= config.flag_drop <= 1:
        raise ConfigError("every must be >= 0 (minutes; 0: once) and flag_below, flag_drop in [0, 1]; "
                          "e.g. every=10 flag_below=0.6 flag_drop=0.2")
    if not 0 < config.confidence < 1 or config.bootstrap_n < 0:
        raise ConfigError("confidence must be in (0, 1) and bootstrap_n >= 0; e.g. confidence=0.95")


def generate_monitor(config: MonitorConfig) -> MonitorResult:
    out = Path(config.output)
    labels = load_label_set(config.label_set).names
    controls_path: Path | None = Path(config.controls) if config.controls else (
        state_dir_for(config.state_dir, config.project.name) / "controls.jsonl")
    if not config.controls and controls_path is not None and not controls_path.is_file():
        controls_path = None  # push wrote no controls: the page says so
    controls = None if controls_path is None else read_controls(controls_path, label_names=labels)
    pulled = pull_export(PullConfig(project=config.project, output_dir=str(out / "pull"),
                                    only_with_annotations=False, timeout=config.timeout,
                                    studio=config.studio))
    for old in (out / "pull").glob("export-*.json*"):  # the latest export is enough
        if old.name not in (pulled.export_path.name, pulled.meta_path.name):
            old.unlink(missing_ok=True)
    meta = json.loads(pulled.meta_path.read_text(encoding="utf-8"))
    parsed = parse_export(pulled.export_path, label_names=labels, controls=controls)
    # each sentence's own overlap (1 outside an overlap sample), else the project's
    overlap = configured_overlap(parsed).fillna(
        int(meta["project_settings"].get("maximum_annotations") or config.project.maximum_annotations))
    project = {"name": config.project.name, "id": meta.get("project_id"),
               "title": meta.get("project_title"), "server_url": meta.get("server_url")}
    figures = compute_figures(parsed, labels=labels, overlap=overlap, controls=controls, config=config,
                              project=project, controls_file=controls_path, names=_names(config))
    html_path, json_path = out / "monitor.html", out / "monitor.json"
    atomic_write(json_path, json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    atomic_write(html_path, render_page(figures))
    return MonitorResult(html_path=html_path, json_path=json_path, figures=figures)


def _number(value: Any, digits: int = 4) -> float | None:
    """JSON-safe: NaN (an undefined figure) becomes null, never 'nan'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)


def _estimate(estimate: Estimate) -> dict[str, Any]:
    return {"value": _number(estimate.value), "ci_low": _number(estimate.ci_low),
            "ci_high": _number(estimate.ci_high), "n_items": estimate.n_items}


def _worker_order(worker: str) -> tuple[bool, int, str]:
    return (not worker.isdigit(), int(worker) if worker.isdigit() else 0, worker)


def _names(config: MonitorConfig) -> dict[str, str]:
    """Label Studio id -> what the page calls the annotator: their email, or its display name."""
    if not config.annotator_names:
        return {}
    return {uid: config.display_names.get(email, email)
            for uid, email in user_emails(config.studio).items()}


def compute_figures(parsed: ParsedExport, *, labels: tuple[str, ...] | list[str], overlap: int | pd.Series,
                    controls: pd.Series | None, config: MonitorConfig, project: dict[str, Any],
                    controls_file: Path | None = None, names: dict[str, str] | None = None) -> dict[str, Any]:
    """Every figure of the page, JSON-ready (no NaN), from a parsed export of all tasks."""
    labels = tuple(labels)
    table = parsed.annotations
    dropped = parsed.dropped
    skips = dropped[dropped["reason"] == "cancelled"]
    answered = pd.concat([table["task"].astype(str),
                          dropped.loc[dropped["reason"].isin(_ANSWERED_DROPS), "task"].astype(str)])
    # per sentence: the answers it asked for (its overlap) and those it got
    wanted = (overlap if isinstance(overlap, pd.Series) else pd.Series(overlap, index=parsed.tasks.index))
    wanted = wanted.reindex(parsed.tasks.index.astype(str)).astype("int64")
    answers = answered.value_counts().reindex(wanted.index, fill_value=0)
    target = int(wanted.sum())
    progress = {
        "tasks": parsed.n_tasks, "overlap": int(wanted.max()) if len(wanted) else 0,
        "overlap_sample": int((wanted > 1).sum()), "target_annotations": target,
        "annotations": len(table), "skipped": len(skips),
        "sentences_started": int((answers >= 1).sum()),
        "sentences_done": int((answers >= wanted).sum()),
        "share_done": _number(answers.clip(upper=wanted).sum() / target if target else 0.0),
    }
    over = answers[answers > wanted].sort_values(ascending=False, kind="stable")
    paired = answers.index[answers >= 2]
    agreement = _agreement(table, labels=labels, paired=paired, config=config)
    annotators = _annotators(table, skips, labels=labels, paired=paired, controls=controls,
                             config=config)
    for annotator in annotators:
        annotator["name"] = (names or {}).get(annotator["worker"], annotator["worker"])
    times = table["created_at"].dropna()
    hours: list[dict[str, Any]] = []
    if len(times):
        per_hour = times.dt.floor("h").value_counts()
        span = pd.date_range(per_hour.index.min(), per_hour.index.max(), freq="h")
        hours = [{"hour": hour.isoformat(), "annotations": int(n)}
                 for hour, n in per_hour.reindex(span, fill_value=0).items()]
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "project": project,
        "export": {"file": parsed.path.name, "sha256": parsed.sha256},
        "labels": list(labels),
        "progress": progress,
        "throughput": {"per_hour": hours,
                       "peak_per_hour": max((h["annotations"] for h in hours), default=0)},
        "agreement": agreement,
        "source_spans": _spans(parsed, config),
        "annotators": annotators,
        "flag": {"below": config.flag_below, "drop": config.flag_drop, "min_items": config.flag_min_items,
                 "consensus": str(config.consensus),
                 "flagged": [a["worker"] for a in annotators if a["flagged"]]},
        "over_overlap": {"count": len(over),
                         "sentences": [{"sentence_id": str(s), "answers": int(n), "overlap": int(wanted[s])}
                                       for s, n in over.items()]},
        "controls": {"file": None if controls_file is None else str(controls_file), "sentences": 0 if controls is None else len(controls),
                     "control_answers": int(table["is_control"].sum())},
    }


def _spans(parsed: ParsedExport, config: MonitorConfig) -> dict[str, Any]:
    """Who is the source so far: spans read, kept and dropped, and pairwise span agreement."""
    texts = parsed.tasks["text"]
    spans = read_spans(parsed.annotations, texts)
    if not spans.read:
        return {"measurable": False, "spans": spans.counts}
    none = pd.DataFrame(columns=["source_span", "source_outside", "span_voters"])
    report = span_agreement(parsed.annotations, spans, texts, none, bootstrap_n=config.bootstrap_n,
                            confidence=config.confidence, seed=config.seed)
    return {"measurable": report["pairs"] > 0, "spans": spans.counts, "pairs": report["pairs"],
            "sentences": report["sentences"], "confidence": config.confidence,
            "exact_f1": report["exact_f1"], "token_f1": report["token_f1"]}


def _agreement(table: pd.DataFrame, *, labels: tuple[str, ...], paired: pd.Index,
               config: MonitorConfig) -> dict[str, Any]:
    if len(paired) == 0:
        return {"measurable": False, "message": NO_OVERLAP, "paired_sentences": 0}
    report = compute_agreement(table, labels=labels, bootstrap_n=config.bootstrap_n,
                               confidence=config.confidence, seed=config.seed)
    return {"measurable": True, "message": None, "paired_sentences": report.observed.n_items,
            "annotations": report.n_annotations, "annotators": report.n_workers,
            "bootstrap_n": report.bootstrap_n, "confidence": report.confidence,
            "observed": _estimate(report.observed),
            "krippendorff_alpha": _estimate(report.krippendorff_alpha)}


def _annotators(table: pd.DataFrame, skips: pd.DataFrame, *, labels: tuple[str, ...],
                paired: pd.Index, controls: pd.Series | None,
                config: MonitorConfig) -> list[dict[str, Any]]:
    """Per worker: work done, skips, control accuracy, agreement with the consensus (on sentences
    with two answers or more: a lone answer agrees with itself), its two halves, and flags."""
    reference = controls if controls is not None else pd.Series(dtype=object)
    in_paired = table["task"].astype(str).isin(paired)
    consensus = pd.Series(dtype=object)
    if in_paired.any():
        consensus = aggregate(table[in_paired], labels=labels, method=config.consensus,
                              seed=config.seed).labels.dropna()
    stats = annotator_stats(table, consensus, reference)
    ordered = table.assign(worker=table["worker"].astype(str)).sort_values(
        ["worker", "created_at", "annotation_id"], kind="stable")
    rank = ordered.groupby("worker").cumcount()
    size = ordered.groupby("worker")["worker"].transform("size")
    first = annotator_stats(ordered[rank < size // 2], consensus, reference)
    second = annotator_stats(ordered[rank >= size // 2], consensus, reference)
    skipped = skips["worker"].astype(str).value_counts()
    half_min = max(1, math.ceil(config.flag_min_items / 2))
    rows = []
    for worker in sorted(set(stats.index) | set(skipped.index), key=_worker_order):
        done = int(stats["items"].get(worker, 0))
        n_skipped = int(skipped.get(worker, 0))
        row: dict[str, Any] = {
            "worker": worker, "annotations": done, "skipped": n_skipped,
            "skip_rate": _number(n_skipped / (done + n_skipped)),
            "median_lead_time": _number(stats["median_lead_time"].get(worker)),
            "control_items": int(stats["control_items"].get(worker, 0)),
            "control_accuracy": _number(stats["control_accuracy"].get(worker)),
            "consensus_items": int(stats["consensus_items"].get(worker, 0)),
            "consensus_agreement": _number(stats["consensus_agreement"].get(worker)),
            "first_half_agreement": _number(first["consensus_agreement"].get(worker)),
            "second_half_agreement": _number(second["consensus_agreement"].get(worker)),
        }
        reasons = []
        value = row["consensus_agreement"]
        if value is not None and row["consensus_items"] >= config.flag_min_items and value < config.flag_below:
            reasons.append(f"agreement with the consensus {value:.2f} < {config.flag_below:.2f}")
        a, b = row["first_half_agreement"], row["second_half_agreement"]
        halves_ok = min(int(first["consensus_items"].get(worker, 0)),
                        int(second["consensus_items"].get(worker, 0))) >= half_min
        if a is not None and b is not None and halves_ok and a - b >= config.flag_drop:
            reasons.append(f"agreement dropped from {a:.2f} to {b:.2f} between the first and the "
                           "second half of the answers")
        rows.append({**row, "flagged": bool(reasons), "flag_reasons": reasons})
    return rows
