"""What the model in the loop did to a dataset: how its sentences were chosen (rounds, audit
sample, strategies), where annotators saw the model's answer pre-filled, and the anchoring
effect: how much more often annotators agree with the model when its answer is pre-filled.

The comparison is between the tasks `srcrel loop next loop.preannotate=true` pre-filled and
those outside the audit sample it chose by the same rule but pushed without (the seeded
`loop.anchoring_check` draw): the groups differ only in the pre-filling, so the difference of
their agreement with the model is the anchoring effect. Its CI is Newcombe's for a difference
of two proportions (statsmodels); annotations of one sentence are not independent, so with
several annotators per sentence the CI is somewhat too narrow (the card says so).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from statsmodels.stats.proportion import confint_proportions_2indep

from srcrel_core.spans import source_tokens

__all__ = ["loop_report", "loop_statement"]

_SHOWN = ("prediction", "prediction-changed")


def _share(group: pd.DataFrame) -> dict[str, Any]:
    n = len(group)
    agree = int(group["agrees"].sum())
    return {"annotations": n, "sentences": int(group["task"].nunique()), "agree_with_model": agree,
            "agreement_with_model": None if n == 0 else round(agree / n, 4)}


def loop_report(annotations: pd.DataFrame, tasks: pd.DataFrame, *, confidence: float = 0.95) -> dict[str, Any]:
    """annotations: the long table (task, label, origin); tasks: parse_export's task frame."""
    rounds = pd.to_numeric(tasks["round"].replace("", None), errors="coerce")
    looped = rounds.notna()
    out: dict[str, Any] = {
        "sentences": int(looped.sum()),
        "rounds": {str(int(r)): int(n) for r, n in rounds[looped].value_counts().sort_index().items()},
        "audit_sentences": int((tasks["audit"] == "true").sum()),
        "strategies": {str(k): int(v) for k, v in tasks.loc[looped, "strategy"].value_counts().sort_index().items()},
        "origins": {str(k): int(v) for k, v in annotations["origin"].astype(str).value_counts().sort_index().items()},
    }
    if not looped.any():
        return out
    task = tasks.reindex(annotations["task"].astype(str))
    frame = pd.DataFrame({
        "task": annotations["task"].astype(str).to_numpy(),
        "label": annotations["label"].astype(str).to_numpy(),
        "origin": annotations["origin"].astype(str).to_numpy(),
        "model_label": task["model_label"].fillna("").to_numpy(),
        "prefilled": (task["prefilled"] == "true").to_numpy(),
        "audit": (task["audit"] == "true").to_numpy(), "round": task["round"].to_numpy()})
    frame = frame[frame["model_label"] != ""]
    frame["agrees"] = frame["label"] == frame["model_label"]
    # the control group: sentences of a pre-filling round that its anchoring draw left without
    checked = set(frame.loc[frame["prefilled"], "round"])
    shown = frame[frame["prefilled"]]
    hidden = frame[~frame["prefilled"] & ~frame["audit"] & frame["round"].isin(checked)]
    out["prefilled"] = {**_share(shown), "shown_as_prefilled": int(shown["origin"].isin(_SHOWN).sum())}
    out["not_prefilled"] = _share(hidden)
    out["audit"] = _share(frame[frame["audit"]])
    if len(shown) and len(hidden):
        low, high = confint_proportions_2indep(int(shown["agrees"].sum()), len(shown), int(hidden["agrees"].sum()),
                                               len(hidden), method="newcomb", compare="diff",
                                               alpha=1 - confidence)
        out["anchoring_effect"] = {
            "difference": round(out["prefilled"]["agreement_with_model"]
                                - out["not_prefilled"]["agreement_with_model"], 4),
            "ci_low": round(float(low), 4), "ci_high": round(float(high), 4), "confidence": confidence,
            "method": "newcombe (statsmodels confint_proportions_2indep), annotations as units"}
    spans = _span_anchoring(annotations, tasks, confidence=confidence)
    if spans:
        out["source_span_anchoring"] = spans
    return out


def _span_anchoring(annotations: pd.DataFrame, tasks: pd.DataFrame, *, confidence: float) -> dict[str, Any]:
    """The anchoring check for who is the source: on sentences the model called sourced, how often an
    annotator who chose sourced marks the model's words (the same `\\w+` tokens), pre-filled or not."""
    if "model_spans" not in tasks or "source_spans" not in annotations:
        return {}
    task = tasks.reindex(annotations["task"].astype(str))
    rows = []
    for label, marked, model, prefilled, audit, text in zip(
            annotations["label"].astype(str), annotations["source_spans"], task["model_spans"].fillna(""),
            task["prefilled"] == "true", task["audit"] == "true", task["text"].fillna("")):
        if label != "sourced" or not model or audit:
            continue
        theirs = source_tokens(text, [((int(m["start"]), int(m["end"])),) for m in marked or []])
        ours = source_tokens(text, [((int(m["start"]), int(m["end"])),) for m in json.loads(model)])
        rows.append((bool(prefilled), theirs == ours))
    frame = pd.DataFrame(rows, columns=["prefilled", "agrees"])
    shown, hidden = frame[frame["prefilled"]], frame[~frame["prefilled"]]
    out: dict[str, Any] = {"prefilled": {"annotations": len(shown), "same_source_as_model": int(shown["agrees"].sum())},
                           "not_prefilled": {"annotations": len(hidden), "same_source_as_model": int(hidden["agrees"].sum())}}
    if len(shown) and len(hidden):
        low, high = confint_proportions_2indep(int(shown["agrees"].sum()), len(shown), int(hidden["agrees"].sum()),
                                               len(hidden), method="newcomb", compare="diff", alpha=1 - confidence)
        out["difference"] = round(float(shown["agrees"].mean() - hidden["agrees"].mean()), 4)
        out["ci_low"], out["ci_high"], out["confidence"] = round(float(low), 4), round(float(high), 4), confidence
    return out


def loop_statement(report: dict[str, Any]) -> list[str]:
    """The card's lines about the loop (none when no sentence came from it)."""
    if not report.get("sentences"):
        return []
    lines = [(f"- {report['sentences']} sentences were chosen by `srcrel loop` in {len(report['rounds'])} rounds "
             f"({', '.join(f'{k}: {v}' for k, v in report['strategies'].items())}); "
             f"{report['audit_sentences']} are the audit sample, drawn uniformly at random from the pool in "
             "every round: evaluate on `audit == True` for an unbiased figure, since the actively chosen "
             "sentences over-represent what the model found hard.")]
    pre, nop = report.get("prefilled", {}), report.get("not_prefilled", {})
    if pre.get("annotations"):
        lines.append(f"- Pre-annotation: {pre['annotations']} annotations on pre-filled sentences agree with the "
                     f"model {pre['agreement_with_model']:.1%} of the time; {nop.get('annotations', 0)} on "
                     "sentences chosen the same way but not pre-filled agree "
                     + (f"{nop['agreement_with_model']:.1%}." if nop.get("annotations") else "(none to compare)."))
    effect = report.get("anchoring_effect")
    if effect:
        lines.append(f"- Anchoring effect (pre-filled minus not): {effect['difference']:+.3f} "
                     f"[{effect['ci_low']:+.3f}, {effect['ci_high']:+.3f}] ({effect['confidence']:.0%} CI; "
                     "annotations of one sentence are not independent, so the interval is somewhat narrow). "
                     "Labels given on pre-filled sentences lean towards the model: do not use them as gold "
                     "for evaluating it.")
    spans = report.get("source_span_anchoring", {})
    if "difference" in spans:
        lines.append(f"- Who is the source, anchoring: annotators marked the model's source words "
                     f"{spans['difference']:+.3f} [{spans['ci_low']:+.3f}, {spans['ci_high']:+.3f}] more often when "
                     f"they were pre-filled ({spans['prefilled']['annotations']} vs "
                     f"{spans['not_prefilled']['annotations']} answers).")
    return lines
