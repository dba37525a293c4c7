"""Model selection by a rule: k-fold CV on train + validation pooled, or train -> validation.

A rule (configs/rule/<name>.yaml, `srcrel select rule=NAME`) names its protocol and candidates; to be honest it is fixed
before any test score is seen. The highest score wins, ties go to the candidate listed first, and
the test split is never read.

- `protocol: cv` (the default): pool train + validation and average macro-F1 over k folds. Every
  labelled non-test sentence is scored, so small dev sets rank candidates with less luck.
- `protocol: validation`: fit on train, score on validation. Noisier, but when validation comes
  from other sources than train (CheckThat's dev sets do), it sees the distribution shift that
  pooled CV averages away.

A `model=finetune` candidate runs under `protocol: validation` only (k fine-tunings per candidate
would take hours on a CPU); it picks its epoch on validation too, as if each epoch were a candidate.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from srcrel_core.errors import ConfigError, TrainingError
from srcrel_core.io import atomic_write
from srcrel_core.progress import phase
from srcrel_core.settings import compose, to_dataclass
from training import config as training_config
from training.config import Protocol, RuleConfig, SelectConfig, TrainConfig
from training.data import LoadedData, load_data
from training.models import build_model
from training.validation import fit_and_score, run_grouped_cv

__all__ = [
    "SelectionRule",
    "compose_candidates",
    "load_selection_rule",
    "pool_for_selection",
    "run_from_config",
    "run_selection",
    "select",
    "select_by_cv",
    "select_on_validation",
]


@dataclass(frozen=True)
class SelectionRule:
    folds: int
    seed: int
    candidates: tuple[tuple[str, ...], ...]  # `srcrel train` overrides, one tuple per candidate
    protocol: Protocol = Protocol.cv


def _rule_from_config(rule: RuleConfig, *, name: str, _referenced: bool = False) -> SelectionRule:
    candidates = rule.candidates
    if rule.same_candidates_as:
        if _referenced:
            raise ConfigError(f"rule {name}: a rule named by same_candidates_as must list its own candidates")
        candidates = [list(c) for c in load_selection_rule(rule.same_candidates_as, _referenced=True).candidates]
    if not candidates or not all(candidates):
        raise ConfigError(f"rule {name}: `candidates` must be a non-empty list of override lists, "
                          "e.g. - [model=embed_logreg, model.C=1]")
    if rule.folds < 2:
        raise ConfigError(f"rule {name}: folds={rule.folds}; use at least 2")
    return SelectionRule(rule.folds, rule.seed, tuple(tuple(str(o) for o in c) for c in candidates),
                         Protocol(rule.protocol))


def load_selection_rule(name: str, *, _referenced: bool = False) -> SelectionRule:
    """A rule of the `rule` config group (configs/rule/<name>.yaml), composed and validated; or a
    rule file of one's own given by its path (`.yaml`), checked against the same schema."""
    if Path(name).suffix in (".yaml", ".yml"):
        return _rule_from_config(_read_rule_file(Path(name)), name=name, _referenced=_referenced)
    training_config.register()
    config = to_dataclass(compose("select", [f"rule={name}", "dataset=unused"]), SelectConfig)
    return _rule_from_config(config.rule, name=name, _referenced=_referenced)


def _read_rule_file(path: Path) -> RuleConfig:
    if not path.is_file():
        raise ConfigError(f"selection rule {path} not found: name one in configs/rule/ or give a YAML path")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(RuleConfig), OmegaConf.load(path))
        rule = OmegaConf.to_object(merged)
    except (OmegaConfBaseException, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split()).split("full_key:")[0].strip()
        raise ConfigError(f"{path}: not a selection rule ({reason}); see configs/rule/checkthat.yaml") from exc
    if not isinstance(rule, RuleConfig):
        raise ConfigError(f"{path}: not a selection rule; see configs/rule/checkthat.yaml")
    return rule


def compose_candidates(rule: SelectionRule, base: Sequence[str]) -> list[TrainConfig]:
    """Each candidate's full `srcrel train` config: `base` overrides, then the candidate's."""
    training_config.register()
    return [to_dataclass(compose("train", [*base, "output_dir=unused", *c]), TrainConfig)
            for c in rule.candidates]


def pool_for_selection(data: LoadedData) -> pd.DataFrame:
    """train + validation rows (never test), the pool the rule cross-validates on."""
    parts = [data.splits[s] for s in ("train", "validation") if s in data.splits]
    if not parts:
        raise TrainingError("no train or validation rows to select a model on")
    return pd.concat(parts, ignore_index=True)


def _describe(i: int, config: TrainConfig) -> dict[str, object]:
    if config.model.classifier == "finetune":  # no feature set or C: the encoder and its learning rate
        return {"candidate": i, "model": config.model.name, "features": Path(config.model.pretrained).name,
                "encoder": config.model.pretrained, "C": None, "embedding_weight": None, "lr": config.model.lr,
                "freeze_embeddings": config.model.freeze_embeddings}
    return {"candidate": i, "model": config.model.name, "features": config.features.name,
            "encoder": config.features.encoder if config.features.embeddings else None,
            "C": config.model.C, "embedding_weight": config.features.embedding_weight}


def _choose(table: pd.DataFrame, score: str) -> pd.DataFrame:
    """Copy the protocol's figure into `score` and mark its best row `chosen` (first of any tie)."""
    table["score"] = table[score]
    table["chosen"] = table.index == int(table[score].fillna(-1.0).to_numpy().argmax())
    return table


def _candidates(candidates: Sequence[TrainConfig], what: str) -> Iterator[tuple[int, TrainConfig]]:
    """The candidates in order; which one is running shows on a terminal, and once a minute in a log."""
    with phase(f"candidate 1 of {len(candidates)} ({what})") as step:
        for i, config in enumerate(candidates):
            step(f"candidate {i + 1} of {len(candidates)}: {config.model.name} ({what})")
            yield i, config


def select_by_cv(pool: pd.DataFrame, candidates: Sequence[TrainConfig], *, labels: Sequence[str],
                 folds: int = 5, seed: int = 0) -> pd.DataFrame:
    """One row per candidate (in the given order): cv_mean (= score), cv_std and `chosen` (one True).

    Rows are sentences or articles: CV groups by `article_id`, so a CheckThat pool (one article
    per sentence) gets plain stratified folds and a srcrel dataset keeps each article in one fold.
    """
    finetune = [i for i, config in enumerate(candidates) if config.model.classifier == "finetune"]
    if finetune:
        raise ConfigError(f"candidate {finetune[0]} is model=finetune, which protocol=cv would fine-tune "
                          f"{folds} times; use protocol: validation in the rule (configs/rule/checkthat_finetune.yaml)")
    rows = []
    for i, config in _candidates(candidates, f"{folds}-fold CV"):
        estimator = build_model(config.model, config.features, seed=config.seed)
        cv = run_grouped_cv(estimator, pool, labels=labels, n_folds=folds, seed=seed)
        if cv is None:
            raise TrainingError(f"cannot cross-validate on {len(pool)} rows; label more data")
        # a candidate that cannot be fit on every fold is not compared on the folds it survived
        # (that favours models failing on hard folds): it is ineligible, and the table says why
        rows.append({**_describe(i, config), "cv_mean": cv.macro_f1_mean if not cv.failed_folds else float("nan"),
                     "cv_std": cv.macro_f1_std, "failed_folds": cv.failed_folds})
    return _choose(pd.DataFrame(rows), "cv_mean")


def select_on_validation(train: pd.DataFrame, validation: pd.DataFrame, candidates: Sequence[TrainConfig],
                         *, labels: Sequence[str]) -> pd.DataFrame:
    """One row per candidate: validation_macro_f1 (= score) after fitting on train, and `chosen`."""
    if train.empty or validation.empty:
        raise TrainingError("protocol=validation needs a train and a validation split; use protocol=cv")
    rows = []
    for i, config in _candidates(candidates, "fit on train, score on validation"):
        estimator = build_model(config.model, config.features, seed=config.seed)
        if config.model.classifier == "finetune":
            from training.finetune import fit_and_score_finetune

            score = fit_and_score_finetune(estimator, train, validation, labels)
        else:
            score = fit_and_score(estimator, train, validation, labels)
        rows.append({**_describe(i, config), "validation_macro_f1": score})
    return _choose(pd.DataFrame(rows), "validation_macro_f1")


def select(data: LoadedData, candidates: Sequence[TrainConfig], rule: SelectionRule) -> pd.DataFrame:
    """Apply `rule` to `data`'s train and validation splits (never its test split); the table's
    `score` column is the rule's figure (mean CV macro-F1, or validation macro-F1)."""
    if rule.protocol == Protocol.validation:
        empty = pd.DataFrame(columns=["label"])
        return select_on_validation(data.splits.get("train", empty), data.splits.get("validation", empty),
                                    candidates, labels=data.label_names)
    return select_by_cv(pool_for_selection(data), candidates, labels=data.label_names,
                        folds=rule.folds, seed=rule.seed)


def run_selection(config: SelectConfig, *, rule_name: str = "rule") -> tuple[SelectionRule, pd.DataFrame]:
    """`srcrel select`: load the data (train and validation only are used), apply the rule."""
    rule = _rule_from_config(config.rule, name=rule_name)
    base = [f"dataset={config.dataset}"] + ([f"label_set={config.label_set}"] if config.label_set else [])
    candidates = compose_candidates(rule, base)
    data = load_data(config.dataset, labels=config.label_set)
    table = select(data, candidates, rule)
    table.insert(1, "overrides", [" ".join(c) for c in rule.candidates])
    if config.output:
        out = Path(config.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out.with_suffix(".json"), table.to_json(orient="records", indent=2))
        atomic_write(out, table.to_csv(index=False))
    return rule, table


def run_from_config(cfg: Any) -> pd.DataFrame:
    from hydra.core.hydra_config import HydraConfig

    config = to_dataclass(cfg, SelectConfig)
    name = HydraConfig.get().runtime.choices.get("rule", "rule") if HydraConfig.initialized() else "rule"
    rule, table = run_selection(config, rule_name=str(name))
    how = (f"{rule.folds}-fold CV on train + validation" if rule.protocol == Protocol.cv
           else "fit on train, macro-F1 on validation")
    print(f"rule {name}: {how}; the test split is not read")
    for row in table.itertuples():
        spread = f" ±{row.cv_std:.3f}" if rule.protocol == Protocol.cv else ""
        print(f" {'*' if row.chosen else ' '} {row.score:.3f}{spread}  {row.overrides}")
    chosen = table[table["chosen"]].iloc[0]
    print(f"chosen: {chosen['overrides']}" + (f" (table: {config.output})" if config.output else ""))
    sys.stdout.flush()
    return table
