"""Model selection by a rule: k-fold CV on train + validation pooled, or train -> validation.

A rule (configs/selection/<name>.yaml) names its protocol and candidates; to be honest it is fixed
before any test score is seen. The highest score wins, ties go to the candidate listed first, and
the test split is never read.

- `protocol: cv` (the default): pool train + validation and average macro-F1 over k folds. Every
  labelled non-test sentence is scored, so small dev sets rank candidates with less luck.
- `protocol: validation`: fit on train, score on validation. Noisier, but when validation comes
  from other sources than train (CheckThat's dev sets do), it sees the distribution shift that
  pooled CV averages away.
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
from training.validation import fit_and_score, run_grouped_cv

__all__ = [
    "PROTOCOLS",
    "SELECTION_DIR",
    "SelectionRule",
    "load_selection_rule",
    "pool_for_selection",
    "select",
    "select_by_cv",
    "select_on_validation",
]

SELECTION_DIR = Path(__file__).resolve().parent.parent / "configs" / "selection"
PROTOCOLS = ("cv", "validation")


@dataclass(frozen=True)
class SelectionRule:
    folds: int
    seed: int
    candidates: tuple[tuple[str, ...], ...]  # `srcrel train` overrides, one tuple per candidate
    protocol: str = "cv"  # one of PROTOCOLS


def load_selection_rule(name_or_path: str, *, _referenced: bool = False) -> SelectionRule:
    """A rule by name (configs/selection/<name>.yaml) or path. `same_candidates_as: NAME` reuses
    another rule's candidate list (one level: that rule must list its own candidates)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SELECTION_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(f"selection rule {name_or_path!r} not found ({path}); put one in {SELECTION_DIR}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if "same_candidates_as" in raw:
        if _referenced:
            raise ConfigError(f"{path}: a rule named by same_candidates_as must list its own candidates")
        other = load_selection_rule(str(raw["same_candidates_as"]), _referenced=True)
        candidates = [list(c) for c in other.candidates]
    else:
        candidates = raw.get("candidates")
    if not candidates or not all(isinstance(c, list) and c for c in candidates):
        raise ConfigError(f"{path}: `candidates` must be a non-empty list of override lists, "
                          "e.g. - [model=embed_logreg, model.C=1]")
    protocol = str(raw.get("protocol", "cv"))
    if protocol not in PROTOCOLS:
        raise ConfigError(f"{path}: protocol={protocol!r} is unknown; use one of {', '.join(PROTOCOLS)}")
    return SelectionRule(int(raw.get("folds", 5)), int(raw.get("seed", 0)),
                         tuple(tuple(str(o) for o in c) for c in candidates), protocol)


def pool_for_selection(data: LoadedData) -> pd.DataFrame:
    """train + validation rows (never test), the pool the rule cross-validates on."""
    parts = [data.splits[s] for s in ("train", "validation") if s in data.splits]
    if not parts:
        raise TrainingError("no train or validation rows to select a model on")
    return pd.concat(parts, ignore_index=True)


def _describe(i: int, config: TrainConfig) -> dict[str, object]:
    return {"candidate": i, "model": config.model.name, "features": config.features.name,
            "C": config.model.C, "embedding_weight": config.features.embedding_weight}


def _choose(table: pd.DataFrame, score: str) -> pd.DataFrame:
    """Copy the protocol's figure into `score` and mark its best row `chosen` (first of any tie)."""
    table["score"] = table[score]
    table["chosen"] = table.index == int(table[score].fillna(-1.0).to_numpy().argmax())
    return table


def select_by_cv(pool: pd.DataFrame, candidates: Sequence[TrainConfig], *, labels: Sequence[str],
                 folds: int = 5, seed: int = 0) -> pd.DataFrame:
    """One row per candidate (in the given order): cv_mean (= score), cv_std and `chosen` (one True).

    Rows are sentences or articles: CV groups by `article_id`, so a CheckThat pool (one article
    per sentence) gets plain stratified folds and a srcrel dataset keeps each article in one fold.
    """
    rows = []
    for i, config in enumerate(candidates):
        estimator = build_model(config.model, config.features, seed=config.seed)
        cv = run_grouped_cv(estimator, pool, labels=labels, n_folds=folds, seed=seed)
        if cv is None:
            raise TrainingError(f"cannot cross-validate on {len(pool)} rows; label more data")
        rows.append({**_describe(i, config), "cv_mean": cv.macro_f1_mean, "cv_std": cv.macro_f1_std})
    return _choose(pd.DataFrame(rows), "cv_mean")


def select_on_validation(train: pd.DataFrame, validation: pd.DataFrame, candidates: Sequence[TrainConfig],
                         *, labels: Sequence[str]) -> pd.DataFrame:
    """One row per candidate: validation_macro_f1 (= score) after fitting on train, and `chosen`."""
    if train.empty or validation.empty:
        raise TrainingError("protocol=validation needs a train and a validation split; use protocol=cv")
    rows = []
    for i, config in enumerate(candidates):
        estimator = build_model(config.model, config.features, seed=config.seed)
        score = fit_and_score(estimator, train, validation, labels)
        rows.append({**_describe(i, config), "validation_macro_f1": score})
    return _choose(pd.DataFrame(rows), "validation_macro_f1")


def select(data: LoadedData, candidates: Sequence[TrainConfig], rule: SelectionRule) -> pd.DataFrame:
    """Apply `rule` to `data`'s train and validation splits (never its test split); the table's
    `score` column is the rule's figure (mean CV macro-F1, or validation macro-F1)."""
    if rule.protocol == "validation":
        empty = pd.DataFrame(columns=["label"])
        return select_on_validation(data.splits.get("train", empty), data.splits.get("validation", empty),
                                    candidates, labels=data.label_names)
    return select_by_cv(pool_for_selection(data), candidates, labels=data.label_names,
                        folds=rule.folds, seed=rule.seed)
