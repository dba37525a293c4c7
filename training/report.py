"""`srcrel report runs=GLOB`: one table (Markdown + CSV) and one PNG comparing training runs.

Runs are ranked by validation macro-F1 (from a model fit on train only), falling back to grouped
CV; the top one is marked `selected`. Test macro-F1 is shown beside it, never used to choose.
Runs on different datasets (dataset_fingerprint) are never ranked together: each dataset gets its
own ranking and its own selected run. Runs that tie on the selection score are said to tie, and
the tie-break rule is written out: higher CV macro-F1, then the faster fit, then the run's name.
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from srcrel_core.errors import InputError
from srcrel_core.settings import to_dataclass
from training.config import ReportConfig

__all__ = ["ReportResult", "collect_runs", "run_from_config", "run_report"]


@dataclass(frozen=True)
class ReportResult:
    table: pd.DataFrame
    markdown: Path
    png: Path


def _metrics_files(pattern: str) -> list[Path]:
    found = []
    for hit in sorted(glob.glob(pattern, recursive=True)):
        path = Path(hit)
        path = path / "metrics.json" if path.is_dir() else path
        if path.name == "metrics.json" and path.is_file():
            found.append(path)
    return found


def _settings(provenance: Path) -> dict[str, object]:
    """The run's features and regularisation, from the config saved beside its metrics."""
    if not provenance.is_file():
        return {"features": None, "C": None}
    config = json.loads(provenance.read_text()).get("config") or {}
    return {"features": (config.get("features") or {}).get("name"), "C": (config.get("model") or {}).get("C")}


def _seed_spread(seeds: dict | None) -> dict[str, object]:
    """model=finetune: how many seeds were trained and their test macro-F1 mean ± sd (sd NaN for one)."""
    if not seeds:
        return {"n_seeds": None, "seed_mean": None, "seed_sd": None}
    return {"n_seeds": len(seeds["per_seed"]), "seed_mean": seeds["test_macro_f1_mean"],
            "seed_sd": seeds["test_macro_f1_sd"]}


def collect_runs(pattern: str) -> pd.DataFrame:
    """One row per run: its selection score, test figures with CI, CV, calibration, fit time."""
    rows = []
    for path in _metrics_files(pattern):
        m = json.loads(path.read_text())
        validation, cv = m.get("validation") or {}, m.get("cv") or {}
        config = m.get("provenance", {})
        settings = _settings(path.parent / "provenance.json")
        rows.append({
            "run": str(path.parent), "model": m["model"], **settings,
            # which encoder, by name and the start of its files' sha256 (runs of a sweep over encoders differ here)
            "encoder": "; ".join(f"{e['name']} ({str(e['sha256'])[:12]})" for e in m.get("encoders") or []) or None,
            "validation_macro_f1": validation.get("macro_f1"), "cv_macro_f1": cv.get("macro_f1_mean"),
            "macro_f1": m["macro_f1"], "ci_low": m["macro_f1_ci"][0], "ci_high": m["macro_f1_ci"][1],
            "accuracy": m["accuracy"], "ece": m.get("ece"), "n_test": m["n"],
            "fit_seconds": m.get("timing", {}).get("fit_seconds"),
            "dataset_fingerprint": config.get("dataset_fingerprint"), **_seed_spread(m.get("seeds")),
            "data_warnings": "; ".join(config.get("warnings") or []),
        })
    if not rows:
        raise InputError(f"runs={pattern!r} matched no run dir with a metrics.json; quote the glob "
                         "(runs='runs/*') and point it at `srcrel train` output dirs")
    table = pd.DataFrame(rows)
    table["dataset"] = table["dataset_fingerprint"].fillna("unknown").astype(str).str[:12]
    table["_key"] = table["validation_macro_f1"].fillna(table["cv_macro_f1"]).round(_TIE_DIGITS)
    table["_cv"] = table["cv_macro_f1"].fillna(-1.0)
    table["_fit"] = table["fit_seconds"].fillna(float("inf"))
    # the ranking, and its tie-break: higher CV macro-F1, then the faster fit, then the run's name
    table = table.sort_values(["dataset", "_key", "_cv", "_fit", "run"], ascending=[True, False, False, True, True],
                              na_position="last")
    table["rank"] = table.groupby("dataset").cumcount() + 1
    top = table.groupby("dataset")["_key"].transform("max")
    table["tied"] = (table["_key"] == top) & table["_key"].notna()
    table["tied"] = table["tied"] & (table.groupby("dataset")["tied"].transform("sum") > 1)
    table["selected"] = (table["rank"] == 1) & table["_key"].notna()
    return table.drop(columns=["_key", "_cv", "_fit"]).reset_index(drop=True)


_TIE_DIGITS = 4  # scores equal to 4 decimals tie: a difference below that is noise on any test set here
TIE_RULE = "higher CV macro-F1, then the faster fit, then the run's name"


def ranking_notes(table: pd.DataFrame) -> list[str]:
    """What a reader must know before trusting `selected`: ties and incomparable datasets."""
    notes = []
    datasets = table["dataset"].unique()
    if len(datasets) > 1:
        notes.append(f"These runs used {len(datasets)} different datasets (dataset_fingerprint differs): their "
                     "scores are not comparable, so each dataset is ranked on its own and has its own selected run.")
    for dataset, group in table.groupby("dataset", sort=False):
        for warning in sorted({w for ws in group["data_warnings"] for w in ws.split("; ") if w}):
            notes.append(f"dataset {dataset}: {warning}.")
        tied = group[group["tied"]]
        if len(tied):
            score = tied["validation_macro_f1"].fillna(tied["cv_macro_f1"]).iloc[0]
            chosen = group.loc[group["selected"], "run"].iloc[0]
            notes.append(f"{len(tied)} runs on dataset {dataset} tie at {score:.3f} (to {_TIE_DIGITS} decimals); "
                         f"{chosen} is selected by the tie-break rule ({TIE_RULE}), not by a better score.")
    return notes


def _spread(row) -> str:
    if row.n_seeds is None or pd.isna(row.n_seeds):
        return ""
    sd = "" if row.seed_sd is None or pd.isna(row.seed_sd) else f" ± {row.seed_sd:.3f}"
    return f"{row.seed_mean:.3f}{sd} ({int(row.n_seeds)} seeds)"


def _markdown(table: pd.DataFrame) -> str:
    lines = [("| dataset | rank | run | model | features | encoder | C | validation macro-F1 | CV macro-F1 | "
              "test macro-F1 (bootstrap CI) | seeds: test mean ± sd | accuracy | ECE | fit s | selected |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda v: "" if v is None or pd.isna(v) else f"{v:.3f}"
    for r in table.itertuples():
        tie = " (tie)" if r.tied else ""
        lines.append(f"| {r.dataset} | {r.rank}{tie} | {r.run} | {r.model} | {r.features or ''} | {r.encoder or ''} | "
                     f"{'' if r.C is None else r.C} | "
                     f"{fmt(r.validation_macro_f1)} | {fmt(r.cv_macro_f1)} | "
                     f"{r.macro_f1:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] | {_spread(r)} | {r.accuracy:.3f} | "
                     f"{fmt(r.ece)} | {fmt(r.fit_seconds)} | {'**yes**' if r.selected else ''} |")
    notes = ranking_notes(table)
    if notes:
        lines += ["", *[f"Note: {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def run_report(config: ReportConfig) -> ReportResult:
    table = collect_runs(config.runs)
    base = Path(config.output)
    base.parent.mkdir(parents=True, exist_ok=True)
    markdown, png = base.with_suffix(".md"), base.with_suffix(".png")
    markdown.write_text(_markdown(table), encoding="utf-8")
    table.to_csv(base.with_suffix(".csv"), index=False)
    from training.plots import plot_runs

    plot_runs(table, png)
    return ReportResult(table, markdown, png)


def run_from_config(cfg: DictConfig) -> ReportResult:
    result = run_report(to_dataclass(cfg, ReportConfig))
    print(result.markdown.read_text(encoding="utf-8"), end="")
    print(f"-> {result.markdown}, {result.png}")
    return result
