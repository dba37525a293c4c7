"""The campaign monitor's page: one self-contained HTML file from the figures of monitor.json.

Plots are inline SVG drawn by matplotlib; no script, no stylesheet or font fetched. Every figure
the page shows sits in an element whose `data-figure` names its path in monitor.json
(`progress.annotations`, `annotators.0.skip_rate`), so a test can check the page against it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from html import escape
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window
logging.getLogger("matplotlib.category").setLevel(logging.WARNING)  # annotator ids as labels: not news
import matplotlib.pyplot as plt

__all__ = ["format_figure", "render_page"]

_MAX_LISTED = 100  # over-overlap sentences listed on the page (monitor.json has them all)
_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .7em;border-bottom:1px solid #eee;
text-align:right}th:first-child,td:first-child{text-align:left}.bar{background:#eee;height:1.1em;
width:100%;max-width:600px}.bar div{background:#4c78a8;height:100%}.flag{color:#b00;font-weight:bold}
.note{color:#555}svg{max-width:100%;height:auto}.ok{color:#2a7}
"""


def format_figure(value: Any, digits: int = 2) -> str:
    """How the page prints a figure of monitor.json: null as a dash, never 'nan'."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _fig(path: str, value: Any, digits: int = 2) -> str:
    return f'<span data-figure="{escape(path)}">{format_figure(value, digits)}</span>'


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: no XML prolog or DOCTYPE


def _plot_work(annotators: Sequence[dict[str, Any]]) -> str:
    names = [a.get("name", a["worker"]) for a in annotators]
    with plt.rc_context({"svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(7, 0.6 + 0.35 * max(len(names), 2)))
        done = [a["annotations"] for a in annotators]
        ax.barh(names, done, color="#4c78a8", label="annotations")
        ax.barh(names, [a["skipped"] for a in annotators], left=done, color="#f58518", label="skipped")
        ax.invert_yaxis()
        ax.set_xlabel("answers")
        ax.set_ylabel("annotator")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=2, fontsize=8, frameon=False)
        fig.tight_layout()
        return _svg(fig)


def _plot_throughput(per_hour: Sequence[dict[str, Any]]) -> str:
    with plt.rc_context({"svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(7, 2.6))
        hours = [h["hour"][5:16].replace("T", " ") for h in per_hour]
        ax.bar(range(len(hours)), [h["annotations"] for h in per_hour], color="#4c78a8")
        step = max(1, len(hours) // 12)
        ax.set_xticks(range(0, len(hours), step), hours[::step], rotation=30, ha="right", fontsize=7)
        ax.set_ylabel("annotations per hour")
        ax.set_xlabel("hour (UTC)")
        fig.tight_layout()
        return _svg(fig)


def _plot_consensus(annotators: Sequence[dict[str, Any]], flag_below: float) -> str:
    shown = [a for a in annotators if a["consensus_agreement"] is not None]
    with plt.rc_context({"svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(7, 0.6 + 0.35 * max(len(shown), 2)))
        ax.barh([a.get("name", a["worker"]) for a in shown], [a["consensus_agreement"] for a in shown],
                color=["#d62728" if a["flagged"] else "#4c78a8" for a in shown])
        ax.axvline(flag_below, color="#555", linestyle="--", linewidth=1)
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        ax.set_xlabel(f"agreement with the consensus (dashed: flag_below={flag_below:g}; red: flagged)")
        ax.set_ylabel("annotator")
        fig.tight_layout()
        return _svg(fig)


def _estimate(path: str, estimate: dict[str, Any], confidence: float) -> str:
    if estimate["value"] is None:
        return "not defined yet (the answers on shared sentences use a single label so far)"
    if estimate["ci_low"] is None:
        ci = "no confidence interval (bootstrap_n=0 or too few sentences)"
    else:
        ci = (f"{confidence:.0%} CI {_fig(path + '.ci_low', estimate['ci_low'])}"
              f"–{_fig(path + '.ci_high', estimate['ci_high'])}")
    return f"<b>{_fig(path + '.value', estimate['value'])}</b> ({ci})"


def _agreement(agreement: dict[str, Any]) -> str:
    if not agreement["measurable"]:
        return f'<p class="note" id="agreement-message">{escape(agreement["message"])}</p>'
    confidence = agreement["confidence"]
    return (f"<p>Computed on {_fig('agreement.paired_sentences', agreement['paired_sentences'])} "
            "sentences with two answers or more.</p><ul>"
            f"<li>Observed agreement (share of agreeing pairs): "
            f"{_estimate('agreement.observed', agreement['observed'], confidence)}</li>"
            f"<li>Krippendorff's α: "
            f"{_estimate('agreement.krippendorff_alpha', agreement['krippendorff_alpha'], confidence)}</li>"
            "</ul>")


def _sources(spans: dict[str, Any] | None) -> str:
    if not spans or not spans["spans"]["read"]:
        return ""
    counts = spans["spans"]
    kept = (f"<p>Who is the source: {_fig('source_spans.spans.read', counts['read'])} spans marked, "
            f"{_fig('source_spans.spans.kept', counts['kept'])} kept (a span on another label than sourced, or "
            "outside the sentence, is dropped).</p>")
    if not spans["measurable"]:
        return kept + '<p class="note">No sentence has two annotators who both chose sourced yet.</p>'
    return (kept + f"<ul><li>Span agreement, exact match F1 over {_fig('source_spans.pairs', spans['pairs'])} pairs: "
            f"{_estimate('source_spans.exact_f1', spans['exact_f1'], spans['confidence'])}</li>"
            f"<li>token F1: {_estimate('source_spans.token_f1', spans['token_f1'], spans['confidence'])}</li></ul>")


def _annotator_rows(annotators: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    rows = []
    for i, a in enumerate(annotators):
        cells = [f"<td>{_fig(f'annotators.{i}.name', a.get('name', a['worker']))}</td>"]
        cells += [f"<td>{_fig(f'annotators.{i}.{c}', a[c])}</td>" for c in columns]
        rows.append(f'<tr data-worker="{escape(a["worker"])}">{"".join(cells)}</tr>')
    return "".join(rows)


def _flags(annotators: Sequence[dict[str, Any]], flag: dict[str, Any]) -> str:
    flagged = [(i, a) for i, a in enumerate(annotators) if a["flagged"]]
    rule = (f"flagged when the agreement with the {escape(flag['consensus'])} consensus is below "
            f"{flag['below']:g} (on at least {flag['min_items']} sentences), or drops by {flag['drop']:g} "
            "or more between the first and the second half of an annotator's answers")
    if not flagged:
        return f'<p class="ok" id="flagged-none">No annotator flagged ({rule}).</p>'
    items = "".join(f'<li class="flag" data-flagged="{escape(a["worker"])}">FLAGGED: annotator '
                    f"{escape(a.get('name', a['worker']))}: {escape('; '.join(a['flag_reasons']))}</li>" for i, a in flagged)
    return f"<p>{rule}.</p><ul>{items}</ul>"


def render_page(figures: dict[str, Any]) -> str:
    project, progress, annotators = figures["project"], figures["progress"], figures["annotators"]
    share = progress["share_done"] or 0.0
    over = figures["over_overlap"]
    controls = figures["controls"]
    parts = [
        f"<h1>Campaign monitor: {escape(str(project['name']))}</h1>",
        (f'<p class="note">Label Studio project {format_figure(project.get("id"))} at '
        f"{escape(str(project.get('server_url')))}; generated {escape(figures['generated_at'])} from "
        f"{escape(figures['export']['file'])} (sha256 {escape(figures['export']['sha256'][:12])}…).</p>"),
        "<h2>Progress</h2>",
        (f"<p>{_fig('progress.annotations', progress['annotations'])} annotations of "
        f"{_fig('progress.target_annotations', progress['target_annotations'])} planned "
        f"({_fig('progress.tasks', progress['tasks'])} sentences, "
        f"{_fig('progress.overlap_sample', progress['overlap_sample'])} of them with overlap "
        f"{_fig('progress.overlap', progress['overlap'])}): {_fig('progress.share_done', share)} done. "
        f"{_fig('progress.sentences_done', progress['sentences_done'])} sentences have all their answers, "
        f"{_fig('progress.sentences_started', progress['sentences_started'])} at least one. "
        f"Skipped: {_fig('progress.skipped', progress['skipped'])}.</p>"),
        f'<div class="bar"><div style="width:{min(share, 1.0) * 100:.1f}%"></div></div>',
        "<h3>Per annotator (answers and skipped rates)</h3>",
        ("<table><tr><th>annotator</th><th>annotations</th><th>skipped</th><th>skip rate</th>"
        "<th>median seconds</th></tr>"),
        _annotator_rows(annotators, ("annotations", "skipped", "skip_rate", "median_lead_time")),
        "</table>",
        _plot_work(annotators) if annotators else '<p class="note">No answer yet.</p>',
        "<h2>Throughput</h2>",
        (f"<p>Peak: {_fig('throughput.peak_per_hour', figures['throughput']['peak_per_hour'])} "
         f"annotations in one hour.</p>{_plot_throughput(figures['throughput']['per_hour'])}"
         if figures["throughput"]["per_hour"] else '<p class="note">No annotation yet.</p>'),
        "<h2>Agreement so far</h2>",
        _agreement(figures["agreement"]),
        _sources(figures.get("source_spans")),
        "<h2>Annotators: controls and agreement with the consensus</h2>",
        (f"<p>Control sentences: {_fig('controls.sentences', controls['sentences'])} in "
         f"{escape(str(controls['file']))}.</p>" if controls["file"] else
         '<p class="note" id="no-controls">No controls file: push with controls.fraction&gt;0 (or pass '
         "controls=PATH) to measure control accuracy.</p>"),
        ("<table><tr><th>annotator</th><th>control sentences</th><th>control accuracy</th>"
        "<th>consensus sentences</th><th>agreement with consensus</th><th>first half</th>"
        "<th>second half</th><th>flagged</th></tr>"),
        _annotator_rows(annotators, ("control_items", "control_accuracy", "consensus_items",
                                     "consensus_agreement", "first_half_agreement",
                                     "second_half_agreement", "flagged")),
        "</table>",
        _flags(annotators, figures["flag"]),
        (_plot_consensus(annotators, figures["flag"]["below"])
         if any(a["consensus_agreement"] is not None for a in annotators) else ""),
        "<h2>Sentences over the configured overlap</h2>",
        (f"<p>Sentences with more answers than their configured overlap: "
        f"{_fig('over_overlap.count', over['count'])}.</p>"),
    ]
    if over["sentences"]:
        listed = over["sentences"][:_MAX_LISTED]
        parts.append("<table><tr><th>sentence</th><th>answers</th><th>overlap</th></tr>" + "".join(
            f"<tr><td>{_fig(f'over_overlap.sentences.{i}.sentence_id', s['sentence_id'])}</td>"
            f"<td>{_fig(f'over_overlap.sentences.{i}.answers', s['answers'])}</td>"
            f"<td>{_fig(f'over_overlap.sentences.{i}.overlap', s['overlap'])}</td></tr>"
            for i, s in enumerate(listed)) + "</table>")
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>srcrel monitor: {escape(str(project['name']))}</title><style>{_STYLE}</style>"
            f"</head><body>\n{body}\n</body></html>\n")
