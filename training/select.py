"""Pre-declared model selection by stratified k-fold CV on train + validation pooled.

The small CheckThat dev sets make "best dev macro-F1" a noisy choice; pooling train + dev and
averaging macro-F1 over k folds scores every candidate on all labelled non-test sentences. The
rule (configs/selection/<name>.yaml) is fixed before any test score is seen: the highest mean
CV macro-F1 wins, ties go to the candidate listed first; the test split is never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from labeling.errors import ConfigError, TrainingError
from training.config import TrainConfig
from training.data import LoadedData
from training.models import build_model
from training.validation import run_grouped_cv

__all__ = ["SELECTION_DIR", "SelectionRule", "load_selection_rule", "pool_for_selection", "select_by_cv"]

SELECTION_DIR = Path(__file__).resolve().parent.parent / "configs" / "selection"


@dataclass(frozen=True)
class SelectionRule:
    folds: int
    seed: int
    candidates: tuple[tuple[str, ...], ...]  # `srcrel train` overrides, one tuple per candidate


def load_selection_rule(name_or_path: str) -> SelectionRule:
    path = Path(name_or_path)
    if not path.suffix:
        path = SELECTION_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(f"selection rule {name_or_path!r} not found ({path}); put one in {SELECTION_DIR}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    candidates = raw.get("candidates")
    if not candidates or not all(isinstance(c, list) and c for c in candidates):
        raise ConfigError(f"{path}: `candidates` must be a non-empty list of override lists, "
                          "e.g. - [model=embed_logreg, model.C=1]")
    return SelectionRule(int(raw.get("folds", 5)), int(raw.get("seed", 0)),
                         tuple(tuple(str(o) for o in c) for c in candidates))


def pool_for_selection(data: LoadedData) -> pd.DataFrame:
    """train + validation rows (never test), the pool the rule cross-validates on."""
    parts = [data.splits[s] for s in ("train", "validation") if s in data.splits]
    if not parts:
        raise TrainingError("no train or validation rows to select a model on")
    return pd.concat(parts, ignore_index=True)


def select_by_cv(pool: pd.DataFrame, candidates: Sequence[TrainConfig], *, labels: Sequence[str],
                 folds: int = 5, seed: int = 0) -> pd.DataFrame:
    """One row per candidate (in the given order): cv_mean, cv_std and `chosen` (exactly one True).

    Rows are sentences or articles: CV groups by `article_id`, so a CheckThat pool (one article
    per sentence) gets plain stratified folds and a srcrel dataset keeps each article in one fold.
    """
    rows = []
    for i, config in enumerate(candidates):
        estimator = build_model(config.model, config.features, seed=config.seed)
        cv = run_grouped_cv(estimator, pool, labels=labels, n_folds=folds, seed=seed)
        if cv is None:
            raise TrainingError(f"cannot cross-validate on {len(pool)} rows; label more data")
        rows.append({"candidate": i, "model": config.model.name, "features": config.features.name,
                     "C": config.model.C, "embedding_weight": config.features.embedding_weight,
                     "cv_mean": cv.macro_f1_mean, "cv_std": cv.macro_f1_std})
    table = pd.DataFrame(rows)
    best = int(table["cv_mean"].fillna(-1.0).to_numpy().argmax())  # first of any tie
    table["chosen"] = table.index == best
    return table
