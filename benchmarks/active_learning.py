"""Does active learning pay? srcrel's batch selection (srcrel.loop.strategy) against random labelling.

    python benchmarks/active_learning.py [--langs en,de,it] [--seeds 10] [--features e5,tfidf]
                                         [--strategies random,uncertainty,...] [--out DIR] [--quick]

Data: CheckThat! 2025 subjectivity (en, de, it), two settings, both reported:
  in_dist (the headline): train + dev + dev_test pooled, split 70/30 (stratified, seeded by the
          seed) into a pool to label and an evaluation set;
  shift:  pool = train + dev, evaluation = dev_test (en's dev_test is far less subjective).
Every run starts from 50 labels chosen by `select_batch` without a model (its cold start), then
rounds of 50 up to 800; after each round the model is refit on all the labels so far and its
macro-F1 on the evaluation set is one point of the learning curve.

Models are srcrel's own: `training.models.build_model` with configs/model/tfidf_logreg.yaml +
configs/features/tfidf.yaml, and configs/model/embed_logreg.yaml + configs/features/embed.yaml.
For speed the pipeline is split: its `features` step is fitted once per pool (TF-IDF vocabulary
and idf from the pool's unlabelled texts, which active learning may see; the e5 vectors come
from `training.features.encode_texts`, cached on disk), and only its `clf` step (the logistic
regression of the config) is refit every round on the labelled rows.

Reported per language, feature and setting, over seeds (paired: a seed fixes the split and the
cold start for every strategy):
  labels_95: labels needed to reach 95% of the macro-F1 of the model fitted on the whole pool
             (linear between rounds; a seed that never gets there counts as the budget, shown >);
  match:     labels for a strategy's seed-mean curve to reach random's mean macro-F1 at the
             budget, over the budget (how much of random's budget buys random's end point);
  AULC:      mean macro-F1 over 50..budget labels (trapezoid / range), its difference to random
             with a paired bootstrap 95% CI over seeds;
  audit:     with audit_share > 0, a model fitted on the non-audit labels only, scored on the
             audit labels so far (a uniform sample of the pool), against its true macro-F1 on the
             evaluation set; beside it the naive estimate, 5-fold CV on the actively chosen labels
             (e5 runs only by default: --audit-features; random's row is the control).
Reference (issue author, in_dist, e5, 5 seeds; shift rows: TF-IDF) in REFERENCE, printed beside.
Strategies: random, plain uncertainty (no audit), and mixes keeping the 20% (or 50%) audit share:
uncertainty, uncertainty_diversity, each with a random or k-means (cluster) cold start.
--select-from FILE runs select_batch of a proposed copy of srcrel/loop/strategy.py instead.
Target: in_dist e5, the best strategy needs <= 0.6 x random's labels (mean of en, de, it) and
its AULC beats random's with the CI above 0 in all three languages.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy.stats import bootstrap
from sklearn.base import clone
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "checkthat2025"
LANGS = {"en": "english", "de": "german", "it": "italian"}
FEATURES = {"e5": ("embed_logreg", "embed"), "tfidf": ("tfidf_logreg", "tfidf")}
SETTINGS = ("in_dist", "shift")
# name -> select_batch keywords; "uncertainty" is plain (no audit), the others keep a 20% audit
STRATEGIES: dict[str, dict[str, Any]] = {
    "random": {"strategy": "random", "audit_share": 0.2},
    "uncertainty": {"strategy": "uncertainty", "audit_share": 0.0},
    "unc80_rand20": {"strategy": "uncertainty", "audit_share": 0.2},
    "unc_div80_rand20": {"strategy": "uncertainty_diversity", "audit_share": 0.2},
    "unc80_rand20_cluster": {"strategy": "uncertainty", "audit_share": 0.2, "cold_start": "cluster"},
    "unc_div80_rand20_cluster": {"strategy": "uncertainty_diversity", "audit_share": 0.2,
                                 "cold_start": "cluster"},
    "unc50_rand50": {"strategy": "uncertainty", "audit_share": 0.5},
    "unc_bal80_rand20": {"strategy": "uncertainty_balanced", "audit_share": 0.2},
    "unc_dens80_rand20": {"strategy": "uncertainty_density", "audit_share": 0.2},
}
DEFAULT_STRATEGIES = ("random,uncertainty,unc80_rand20,unc_div80_rand20,unc80_rand20_cluster,"
                      "unc_div80_rand20_cluster,unc50_rand50")
# the issue author's figures: labels-to-95% ratio to random, AULC difference to random
REFERENCE = {
    ("in_dist", "e5", "uncertainty"): {"en": (1.05, None), "de": (0.87, None), "it": (0.81, None)},
    ("in_dist", "e5", "unc80_rand20"): {"en": (0.95, 0.007), "de": (0.65, 0.016), "it": (0.74, 0.010)},
    ("shift", "tfidf", "uncertainty"): {"en": (1.37, None), "de": (1.04, None), "it": (1.06, None)},
}
TARGET_RATIO = 0.6


# --- pure metrics -------------------------------------------------------------------------------

def labels_to_reach(labels: Any, scores: Any, target: float) -> float:
    """Labels at which the curve first reaches `target`, linear between rounds; inf if never."""
    labels, scores = np.asarray(labels, float), np.asarray(scores, float)
    hit = np.flatnonzero(scores >= target)
    if not len(hit):
        return math.inf
    i = int(hit[0])
    if i == 0:
        return float(labels[0])
    x0, x1, y0, y1 = labels[i - 1], labels[i], scores[i - 1], scores[i]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))


def aulc(labels: Any, scores: Any) -> float:
    """Area under the learning curve over its label range, divided by the range: a mean score."""
    labels, scores = np.asarray(labels, float), np.asarray(scores, float)
    return float(np.trapezoid(scores, labels) / (labels[-1] - labels[0]))


def paired_ci(a: Any, b: Any, *, confidence: float = 0.95, n_resamples: int = 10_000,
              seed: int = 0) -> tuple[float, float, float]:
    """Mean of a - b paired by position (seed), with a percentile bootstrap CI over the pairs."""
    d = np.asarray(a, float) - np.asarray(b, float)
    mean = float(d.mean())
    if len(d) < 2 or np.ptp(d) == 0:
        return mean, mean, mean
    ci = bootstrap((d,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                   method="percentile", rng=np.random.default_rng(seed)).confidence_interval
    return mean, float(ci.low), float(ci.high)


def macro_f1(y_true: Any, y_pred: Any) -> float:
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


# --- data and models ----------------------------------------------------------------------------

def load_frames(folder: Path, lang: str) -> dict[str, pd.DataFrame]:
    from srcrel_core.labelset import load_label_set
    from training.data import read_checkthat_tsv
    names = load_label_set("checkthat").names
    return {s: read_checkthat_tsv(folder / f"{s}_{lang}.tsv", label_names=names)
            for s in ("train", "dev", "dev_test")}


def split(frames: dict[str, pd.DataFrame], setting: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pool, evaluation) frames of one setting; in_dist is a seeded stratified 70/30 split."""
    if setting == "shift":
        return pd.concat([frames["train"], frames["dev"]], ignore_index=True), frames["dev_test"]
    every = pd.concat(list(frames.values()), ignore_index=True)
    pool, held = train_test_split(every, test_size=0.3, stratify=every["label"], random_state=seed)
    return pool.reset_index(drop=True), held.reset_index(drop=True)


def srcrel_model(feature: str, seed: int) -> Any:
    """build_model for the feature's configs (model + features YAML), the embedding cache in ROOT."""
    from srcrel_core.settings import config_file
    from training.config import FeaturesConfig, ModelConfig
    from training.models import build_model

    def read(kind: str, name: str) -> dict[str, Any]:
        raw = yaml.safe_load(config_file(kind, name, what=kind).read_text())
        return {k: v for k, v in raw.items() if k != "defaults"}
    model_name, features_name = FEATURES[feature]
    fcfg = FeaturesConfig(**read("features", features_name),
                          embedding_cache=str(ROOT / ".srcrel" / "cache" / "embeddings"))
    return build_model(ModelConfig(**read("model", model_name)), fcfg, seed=seed)


def vectorise(feature: str, pool: pd.DataFrame, held: pd.DataFrame, seed: int) -> tuple[Any, Any, Any]:
    """(pool matrix, evaluation matrix, unfitted classifier) from srcrel's pipeline, split in two."""
    from training.data import model_inputs
    model = srcrel_model(feature, seed)
    step = model.named_steps["features"].fit(model_inputs(pool))
    return step.transform(model_inputs(pool)), step.transform(model_inputs(held)), model.named_steps["clf"]


# --- one active-learning run --------------------------------------------------------------------

def run_curve(select: Any, Xp: Any, yp: np.ndarray, Xe: Any, ye: np.ndarray, clf: Any, spec: dict,
              *, seed: int, start: int, step: int, budget: int, audit: bool) -> dict[str, list]:
    """Learning curve of one strategy and seed; with `audit`, the audit and naive estimates too."""
    ids = [str(i) for i in range(len(yp))]
    needs_features = spec.get("strategy") in ("diversity", "uncertainty_diversity", "uncertainty_density") or \
        spec.get("cold_start") == "cluster"
    labelled: list[int] = []
    audited: list[int] = []
    proba = None
    out: dict[str, list] = {"labels": [], "f1": [], "audit_err": []}
    for r in range(10_000):
        if len(labelled) >= budget:
            break
        free = np.setdiff1d(np.arange(len(yp)), labelled)
        size = min(start if r == 0 else step, budget - len(labelled))
        batch = select([ids[i] for i in free], batch_size=size, seed=seed, round_index=r,
                       proba=None if proba is None else proba[free],
                       features=Xp[free] if needs_features else None, **spec)
        for choice in batch:
            labelled.append(int(choice.sentence_id))
            if choice.audit:
                audited.append(int(choice.sentence_id))
        model = clone(clf).fit(Xp[labelled], yp[labelled])
        proba = model.predict_proba(Xp)
        out["labels"].append(len(labelled))
        out["f1"].append(macro_f1(ye, model.predict(Xe)))
        if audit and audited:
            out["audit_err"].append(audit_errors(Xp, yp, Xe, ye, clf, labelled, audited, seed))
    return out


def audit_errors(Xp: Any, yp: np.ndarray, Xe: Any, ye: np.ndarray, clf: Any, labelled: list[int],
                 audited: list[int], seed: int) -> tuple[float, float]:
    """(audit estimate - truth, naive CV estimate - truth) for a model fitted on the non-audit labels."""
    active = np.setdiff1d(labelled, audited)
    model = clone(clf).fit(Xp[active], yp[active])
    truth = macro_f1(ye, model.predict(Xe))
    on_audit = macro_f1(yp[audited], model.predict(Xp[audited]))
    folds = min(5, int(np.bincount(pd.factorize(yp[active])[0]).min()))
    if folds < 2:  # a class with a single active label: no CV estimate this round
        return on_audit - truth, math.nan
    cv = cross_val_predict(clone(clf), Xp[active], yp[active],
                           cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    return on_audit - truth, macro_f1(yp[active], cv) - truth


# --- the benchmark ------------------------------------------------------------------------------

def run_cell(select: Any, frames: dict, setting: str, feature: str, strategies: list[str],
             seeds: int, budget: int, audit: bool) -> dict[str, Any]:
    """All strategies x seeds for one language, setting and feature: curves, full-pool F1, audit."""
    cell: dict[str, Any] = {"full_f1": [], "curves": {s: [] for s in strategies},
                            "audit": {s: [] for s in strategies}}
    for seed in range(seeds):
        pool, held = split(frames, setting, seed)
        Xp, Xe, clf = vectorise(feature, pool, held, seed)
        yp, ye = pool["label"].to_numpy(), held["label"].to_numpy()
        cell["full_f1"].append(macro_f1(ye, clone(clf).fit(Xp, yp).predict(Xe)))
        for name in strategies:
            spec = STRATEGIES[name]
            run = run_curve(select, Xp, yp, Xe, ye, clf, spec, seed=seed, start=50, step=50,
                            budget=min(budget, len(yp)), audit=audit and spec.get("audit_share", 0) > 0)
            cell["curves"][name].append(run["f1"])
            cell["audit"][name].append(run["audit_err"])
        cell["labels"] = run["labels"]
    return cell


def summarise(cell: dict[str, Any], budget: int) -> dict[str, Any]:
    labels, full = cell["labels"], np.asarray(cell["full_f1"])
    reach = {s: np.asarray([labels_to_reach(labels, c, 0.95 * f) for c, f in zip(curves, full)])
             for s, curves in cell["curves"].items()}
    area = {s: np.asarray([aulc(labels, c) for c in curves]) for s, curves in cell["curves"].items()}
    out: dict[str, Any] = {"full_f1": float(full.mean()), "labels": labels, "strategies": {}}
    base = np.minimum(reach["random"], budget).mean() if "random" in reach else math.nan
    # the same on the seed-mean curve against the mean full-pool F1: less noisy than per seed
    on_mean = {s: min(labels_to_reach(labels, np.mean(c, axis=0), 0.95 * full.mean()), budget)
               for s, c in cell["curves"].items()}
    # labels for the seed-mean curve to match random's mean macro-F1 at the budget (x budget)
    final = np.mean(cell["curves"]["random"], axis=0)[-1] if "random" in cell["curves"] else math.nan
    match = {s: labels_to_reach(labels, np.mean(c, axis=0), final) / labels[-1] for s, c in cell["curves"].items()}
    for s in cell["curves"]:
        capped = np.minimum(reach[s], budget)
        diff = paired_ci(area[s], area["random"]) if "random" in area else (math.nan,) * 3
        errors = np.asarray(cell["audit"][s], float)  # seeds x rounds x (audit, naive)
        out["strategies"][s] = {
            "labels_95_mean": float(capped.mean()), "labels_95_sd": float(capped.std(ddof=1)) if len(capped) > 1 else 0.0,
            "censored": int(np.isinf(reach[s]).sum()), "ratio": float(capped.mean() / base),
            "ratio_mean_curve": float(on_mean[s] / on_mean.get("random", math.nan)),
            "match_random_final": float(match[s]),
            "aulc": float(area[s].mean()), "aulc_diff": diff,
            **{f"{m}_{stat}": (getattr(np, f"nan{stat}")(errors[..., j], axis=0, **kw).tolist()
                                if errors.size and len(errors) > 1 else [])
               for j, m in enumerate(("audit", "naive")) for stat, kw in (("mean", {}), ("std", {"ddof": 1}))},
        }
    return out


def plot(cells: dict[str, Any], lang: str, setting: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    features = [f for (lg, st, f) in cells if lg == lang and st == setting]
    fig, axes = plt.subplots(1, len(features), figsize=(6 * len(features), 4.2), squeeze=False)
    for ax, feature in zip(axes[0], features):
        cell = cells[(lang, setting, feature)]
        x = np.asarray(cell["labels"])
        for name, curves in cell["curves"].items():
            c = np.asarray(curves)
            ax.plot(x, c.mean(0), label=name)
            ax.fill_between(x, c.mean(0) - c.std(0), c.mean(0) + c.std(0), alpha=0.15)
        ax.axhline(0.95 * np.mean(cell["full_f1"]), color="grey", ls=":", label="95% of full pool")
        ax.set(title=f"{lang} {setting} {feature}", xlabel="labels", ylabel="macro-F1 (evaluation set)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fmt_ci(d: tuple[float, float, float]) -> str:
    return f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]"


def tables(results: dict[str, Any], langs: list[str], seeds: int, budget: int) -> str:
    lines = [f"# Active learning on CheckThat 2025 ({seeds} seeds, 50..{budget} labels)", "",
             "## Labels to 95% of full-pool macro-F1, ratio to random, AULC minus random [95% CI]", "",
             ("| setting | feature | strategy | lang | full F1 | labels_95 (sd) | ratio | ratio, mean curve "
              "| reference ratio | AULC | AULC - random [CI] | reference | to random's final F1 |"),
             "|" + "---|" * 13]
    for key, cell in results.items():
        setting, feature, lang = key.split("/")
        for s, r in cell["strategies"].items():
            ref = REFERENCE.get((setting, feature, s), {}).get(lang, (None, None))
            more = ">" if r["censored"] else ""
            lines.append(f"| {setting} | {feature} | {s} | {lang} | {cell['full_f1']:.3f} | "
                         f"{more}{r['labels_95_mean']:.0f} ({r['labels_95_sd']:.0f}) | {more}{r['ratio']:.2f} | "
                         f"{r['ratio_mean_curve']:.2f} | "
                         f"{'' if ref[0] is None else ref[0]} | {r['aulc']:.3f} | {fmt_ci(r['aulc_diff'])} | "
                         f"{'' if ref[1] is None else f'{ref[1]:+.3f}'} | {r['match_random_final']:.2f} |")
    lines += ["", ("`>`: some seeds never reached 95% within the budget (counted as the budget). "
                   "ratio, mean curve: labels for the seed-mean curve to reach 95% of the mean full-pool "
                   "F1, over random's (capped at the budget). to random's final F1: labels for the "
                   "seed-mean curve to reach random's mean macro-F1 at the budget, over the budget "
                   "(inf: never)."), ""]
    lines += ["## Audit estimate vs naive CV estimate of macro-F1: signed error (mean ± sd over seeds)",
              "", "Model fitted on the non-audit labels; truth = its macro-F1 on the evaluation set.", ""]
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for key, cell in results.items():
        setting, feature, lang = key.split("/")
        for s, r in cell["strategies"].items():
            if r["audit_mean"]:
                groups.setdefault((setting, feature, s), {})[lang] = (cell["labels"], r)
    for (setting, feature, s), by_lang in groups.items():
        lines += [f"**{setting} {feature} {s}**: audit - truth | naive (CV on the active labels) - truth", "",
                  "| labels | " + " | ".join(f"{lg} audit | {lg} naive" for lg in by_lang) + " |",
                  "|" + "---|" * (1 + 2 * len(by_lang))]
        labels = next(iter(by_lang.values()))[0]
        for i, lab in enumerate(labels):
            row = [f"{r[m + '_mean'][i]:+.3f} ± {r[m + '_std'][i]:.3f}"
                   for _, r in by_lang.values() for m in ("audit", "naive")]
            lines.append(f"| {lab} | " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def verdict(results: dict[str, Any], langs: list[str]) -> str:
    """The target on in_dist e5: best strategy by mean ratio; met if <= 0.6 and every AULC CI > 0."""
    cells = [results.get(f"in_dist/e5/{lang}") for lang in langs]
    if not all(cells):
        return "target: not assessed (needs in_dist e5 for every language)"
    names = [s for s in cells[0]["strategies"] if s != "random"]
    ratio = {s: float(np.mean([c["strategies"][s]["ratio"] for c in cells])) for s in names}
    best = min(ratio, key=ratio.get)
    ci_ok = all(c["strategies"][best]["aulc_diff"][1] > 0 for c in cells)
    met = ratio[best] <= TARGET_RATIO and ci_ok
    return (f"best strategy (in_dist, e5): {best}, mean labels ratio to random {ratio[best]:.2f} "
            f"(target <= {TARGET_RATIO}), AULC CI above 0 in all languages: {ci_ok}. "
            f"TARGET {'MET' if met else 'NOT MET'}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--langs", default="en,de,it")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--features", default="e5,tfidf")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--strategies", default=DEFAULT_STRATEGIES, help=f"of {', '.join(STRATEGIES)}")
    parser.add_argument("--budget", type=int, default=800)
    parser.add_argument("--audit-features", default="e5", help="features whose runs also track the "
                        "audit and naive estimates (6 extra fits a round)")
    parser.add_argument("--data", default=str(DATA), help="the checkthat2025 folder")
    parser.add_argument("--out", default=str(ROOT / ".srcrel" / "bench" / "active_learning"))
    parser.add_argument("--select-from", default=None,
                        help="a .py file with select_batch, to try a proposed strategy before it is merged")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, up to 300 labels")
    args = parser.parse_args()
    data = Path(args.data)
    if not data.is_dir():
        sys.exit(f"skipped: {data} not found (the CheckThat data lives in ../shared beside the repo)")
    select, known = load_select(args.select_from)
    unknown = [s for s in args.strategies.split(",") if s not in STRATEGIES or STRATEGIES[s]["strategy"] not in known]
    if unknown:
        sys.exit(f"unknown strategy {unknown}: use {', '.join(STRATEGIES)} (whose Strategy the module has)")
    seeds, budget = (2, 300) if args.quick else (args.seeds, args.budget)
    langs, strategies = args.langs.split(","), args.strategies.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cells, results = {}, {}
    for lang in langs:
        frames = load_frames(data / LANGS[lang], lang)
        for setting in args.settings.split(","):
            for feature in args.features.split(","):
                t0 = time.perf_counter()
                cells[(lang, setting, feature)] = cell = run_cell(
                    select, frames, setting, feature, strategies, seeds, budget,
                    audit=feature in args.audit_features.split(","))
                results[f"{setting}/{feature}/{lang}"] = summary = summarise(cell, budget)
                print(f"{lang} {setting:7} {feature:5} full F1 {summary['full_f1']:.3f} " + "  ".join(
                    f"{s} x{r['ratio']:.2f} {r['aulc_diff'][0]:+.3f}" for s, r in summary["strategies"].items())
                    + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
            plot(cells, lang, setting, out / f"curves_{lang}_{setting}.png")
    wall = time.perf_counter() - started
    report = tables(results, langs, seeds, budget) + "\n\n" + verdict(results, langs) + \
        f"\n\nwall time {wall:.0f} s\n"
    (out / "results.md").write_text(report)
    raw = {f"{s}/{f}/{lg}": {"labels": c["labels"], "full_f1": c["full_f1"], "curves": c["curves"]}
           for (lg, s, f), c in cells.items()}
    (out / "results.json").write_text(json.dumps({"args": vars(args), "wall_seconds": wall,
                                                  "summary": results, "raw": raw}, indent=1))
    print(verdict(results, langs))
    print(f"wrote {out}/results.md, results.json, curves_*.png ({wall:.0f} s)")


def load_select(path: str | None) -> tuple[Any, set[str]]:
    """select_batch and the Strategy names of srcrel.loop.strategy, or of the module at `path`."""
    if path is None:
        from srcrel.loop import strategy as module
    else:
        spec = importlib.util.spec_from_file_location("strategy_proposal", path)
        module = sys.modules["strategy_proposal"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module.select_batch, {str(s) for s in module.Strategy}


if __name__ == "__main__":
    main()
