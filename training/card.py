"""The model card (Markdown) of a training run: data, metrics with CIs, intended use, limits."""

from __future__ import annotations

from typing import Any

__all__ = ["render_model_card"]


def _ci(pair: Any) -> str:
    lo, hi = pair
    return f"[{lo:.3f}, {hi:.3f}]"


def _encoder_lines(encoders: list[dict[str, Any]]) -> list[str]:
    """## Encoder: each encoder by the name it was given and the sha256 of its files."""
    if not encoders:
        return []
    lines = ["## Encoder", ""]
    for e in encoders:
        prompt = f"prompt `{e['prompt']}`" if e.get("prompt") else "no prompt"
        lines.append(f"- `{e['name']}` ({e['kind']}): files sha256 `{e['sha256']}`; {prompt}; "
                     f"{e.get('dtype') or 'default precision'} on {e.get('device') or 'cpu'}")
    return [*lines, ""]


def render_model_card(metrics: dict[str, Any]) -> str:
    """Markdown from a run's metrics.json dict (the card shows only what metrics.json holds)."""
    prov, data = metrics["provenance"], metrics["data"]
    level = metrics.get("ci_level", 0.95)
    warnings = prov.get("warnings") or []
    lines = [
        f"# Model card: {metrics['model']}", "",
        *([f"> **About its training data:** {w}." for w in warnings] + [""] if warnings else []),
        ("Sentence classifier of srcrel (what a news sentence's claim rests on), trained by "
         "`srcrel train`."), "",
        "## Data", "",
        f"- source: `{data['source']}`; labels: {', '.join(metrics['labels'])}",
        "- sizes: " + ", ".join(f"{k} {v}" for k, v in data["sizes"].items()),
        (f"- dataset fingerprint `{prov.get('dataset_fingerprint')}`, export sha256 "
         f"`{prov.get('export_sha256') or 'n/a'}`, guidelines version "
         f"`{prov.get('guidelines_version') or 'n/a'}`"),
        f"- final model trained on: {data['fit_on']}", "",
        *_encoder_lines(metrics.get("encoders") or []),
        f"## Metrics (test split; {level:.0%} bootstrap CIs over test items)", "",
        f"| metric | value | {level:.0%} CI |", "|---|---|---|",
        f"| macro-F1 | {metrics['macro_f1']:.3f} | {_ci(metrics['macro_f1_ci'])} |",
        f"| accuracy | {metrics['accuracy']:.3f} | {_ci(metrics['accuracy_ci'])} |",
    ]
    if metrics.get("ece") is not None:
        lines.append(f"| calibration error (ECE) | {metrics['ece']:.3f} | |")
    if metrics.get("validation"):
        lines.append(f"| validation macro-F1 (model fit on train only) | "
                     f"{metrics['validation']['macro_f1']:.3f} | |")
    seeds = metrics.get("seeds")
    if seeds and seeds["test_macro_f1_sd"] is not None:
        lines.append(f"| test macro-F1 of each seed alone, mean ± sd over {len(seeds['per_seed'])} seeds | "
                     f"{seeds['test_macro_f1_mean']:.3f} ± {seeds['test_macro_f1_sd']:.3f} | |")
    if metrics.get("cv") and "skipped" not in metrics["cv"]:
        cv = metrics["cv"]
        lines.append(f"| grouped {cv['n_folds']}-fold CV macro-F1 (train) | "
                     f"{cv['macro_f1_mean']:.3f} ± {cv['macro_f1_std']:.3f} | |")
        if cv.get("failed_folds"):
            lines.append(f"| CV folds that could not be fit (left out of the mean) | {cv['failed_folds']} of "
                         f"{cv['n_folds']} | |")
    lines += ["", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    lines += [f"| {label} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
              for label, s in metrics["per_class"].items()]
    if len(metrics["per_language"]) > 1:
        lines += ["", f"| language | n | macro-F1 | {level:.0%} CI |", "|---|---|---|---|"]
        lines += [f"| {lang} | {s['n']} | {s['macro_f1']:.3f} | {_ci(s['macro_f1_ci'])} |"
                  for lang, s in metrics["per_language"].items()]
    if metrics.get("learning_curve"):
        lines += ["", f"Learning curve: {metrics['learning_curve_verdict']} (learning_curve.png)."]
    if seeds:
        lines += ["", f"Served model: {seeds['served']}; epochs kept (chosen on validation): "
                  + ", ".join(f"seed {r['seed']}: {r['epoch']}" for r in seeds["per_seed"]) + "."]
    if (metrics.get("cv") or {}).get("skipped"):
        lines += ["", f"Cross-validation and learning curve skipped: {metrics['cv']['skipped']}."]
    lines += [
        "", "## Intended use", "",
        ("A baseline for triaging news sentences during annotation and for measuring whether a "
         "labelled dataset is learnable. Not for judging outlets or people, nor for automated "
         "moderation: a sentence's label says what its claim rests on, not whether it is true."), "",
        "## Limitations", "",
        ("- Trained on a small, single-campaign dataset: expect lower scores on other outlets, "
         "topics, periods and languages (see the per-language table)."),
        "- Cue-lexicon features cover reporting verbs and opinion markers in a few languages only.",
        "- CIs reflect test-item sampling only, not annotator disagreement or domain shift.",
        "- Probabilities may be miscalibrated (see ECE); do not read them as certainties.", "",
        "## Provenance", "",
        f"- git commit `{prov.get('git_commit')}`, srcrel {prov.get('srcrel_version')}",
        "- libraries: " + ", ".join(f"{k} {v}" for k, v in prov.get("libraries", {}).items()),
        "- config: `config.yaml` beside this card (no secrets are part of it).", "",
    ]
    return "\n".join(lines)
