"""`srcrel evaluate run_dir=OUT data=PATH output_dir=OUT2`: score a trained run on any data.

Also the writing shared with `srcrel train`: metrics.json (stable keys, macro_f1 at top level),
errors.csv (misclassified sentences with context and probabilities) and the confusion PNG.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from omegaconf import DictConfig

from srcrel_core.errors import ConfigError, TrainingError
from srcrel_core.io import staged_output
from srcrel_core.settings import to_dataclass
from training.config import EvaluateConfig
from training.data import load_data, model_inputs
from training.metrics import Scores, score_predictions
from training.models import load_run_model
from training.sentence_encoders import encoders_of

__all__ = [
    "METRICS_VERSION",
    "EvaluateResult",
    "metrics_dict",
    "predict_frame",
    "run_evaluate",
    "run_from_config",
    "write_errors",
    "write_metrics",
]

# 2: + ci_level; cv records failed_folds and failures; 3: + seeds (model=finetune); 4: + encoders
METRICS_VERSION = 4


@dataclass(frozen=True)
class EvaluateResult:
    output_dir: Path
    scores: Scores


def predict_frame(model: Any, frame: pd.DataFrame, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Predicted label names and probabilities with columns in `labels` order."""
    X = model_inputs(frame)
    pred = np.asarray(model.predict(X), dtype=object)
    raw = model.predict_proba(X)
    proba = np.zeros((len(frame), len(labels)))
    for j, cls in enumerate(model.classes_):
        if cls in labels:
            proba[:, list(labels).index(cls)] = raw[:, j]
    return pred, proba


def metrics_dict(scores: Scores, *, model: str, split: str, extra: dict[str, Any]) -> dict[str, Any]:
    """metrics.json: the same keys for every run (a figure not computed is null)."""
    body = scores.to_dict()
    out: dict[str, Any] = {
        "metrics_version": METRICS_VERSION, "model": model, "split": split,
        "labels": list(scores.labels), "n": scores.n,
        "macro_f1": body["macro_f1"], "macro_f1_ci": list(body["macro_f1_ci"]),
        "accuracy": body["accuracy"], "accuracy_ci": list(body["accuracy_ci"]), "ci_level": body["ci_level"],
        "per_class": body["per_class"],
        "confusion_matrix": {"labels": list(scores.labels), "matrix": body["confusion"]},
        "per_language": body["per_language"], "ece": body["ece"], "brier": body["brier"],
        "validation": None, "cv": None, "learning_curve": None, "learning_curve_verdict": None,
        "timing": {}, "data": {}, "provenance": {},
        "seeds": None,  # model=finetune: per-seed epoch, validation and test macro-F1, mean ± sd
        # every encoder the model runs: name as given, sha256 of its files, prompt, dtype, device
        "encoders": [],
    }
    unknown = set(extra) - set(out)
    if unknown:
        raise TrainingError(f"metrics.json has no key(s) {sorted(unknown)} (a bug: keys are fixed)")
    return out | extra


def write_metrics(path: Path, metrics: dict[str, Any]) -> None:
    path.write_bytes(orjson.dumps(metrics, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


def write_errors(path: Path, frame: pd.DataFrame, pred: np.ndarray, proba: np.ndarray,
                 labels: Sequence[str]) -> int:
    """Misclassified sentences with their context and predicted probabilities; returns the count."""
    wrong = frame["label"].to_numpy() != pred
    table = frame.loc[wrong, ["sentence_id", "article_id", "lang", "prev_text", "text", "next_text",
                              "label"]].rename(columns={"label": "gold"})
    table.insert(table.columns.get_loc("gold") + 1, "predicted", pred[wrong])
    for j, label in enumerate(labels):
        table[f"p_{label}"] = np.round(proba[wrong, j], 4)
    table = table.assign(_conf=proba[wrong].max(axis=1)).sort_values("_conf", ascending=False)
    table.drop(columns="_conf").to_csv(path, index=False)
    return int(wrong.sum())


def check_confidence(confidence: float, key: str) -> None:
    if not 0 < confidence < 1:
        raise ConfigError(f"{key}={confidence}: a confidence level is in (0, 1), e.g. {key}=0.95")


def run_evaluate(config: EvaluateConfig) -> EvaluateResult:
    check_confidence(config.confidence, "confidence")
    run_dir = Path(config.run_dir)
    started = time.perf_counter()
    meta_path = run_dir / "metrics.json"
    if not meta_path.is_file():
        raise TrainingError(f"{meta_path} not found: run_dir must be the output_dir of `srcrel train`")
    trained = json.loads(meta_path.read_text())
    if trained.get("task") == "source_span":
        from training.span_train import run_span_evaluate

        return run_span_evaluate(config, trained)  # type: ignore[return-value]
    labels = tuple(trained["labels"])
    model = load_run_model(run_dir)
    data = load_data(config.data, label_names=labels)
    split = config.split if config.split in data.splits else next(iter(data.splits))
    if len(data.splits) > 1 and config.split not in data.splits:
        raise TrainingError(f"{config.data} has no split {config.split!r}; use split= one of "
                            f"{sorted(data.splits)}")
    frame = data.splits[split]
    if config.subset == "audit":
        if "audit" not in frame:
            raise TrainingError(f"{config.data} has no `audit` column: subset=audit needs a dataset built from a "
                                "project fed by `srcrel loop next`; use subset=all")
        frame = frame[frame["audit"].astype(bool)].reset_index(drop=True)
        if frame.empty:
            raise TrainingError(f"{config.data} split {split!r} has no audit sentence: evaluate a split that "
                                "holds some (the loop's audit share), or use subset=all")
    if frame.empty:
        raise TrainingError(f"{config.data} split {split!r} is empty: nothing to score")
    unknown = sorted(set(frame["label"]) - set(labels))
    if unknown:
        raise TrainingError(f"{config.data}: label(s) {unknown} were not trained on (model labels: "
                            f"{list(labels)}); score data labelled with the same label set")
    pred, proba = predict_frame(model, frame, labels)
    scores = score_predictions(frame["label"].to_numpy(), pred, labels=labels, proba=proba,
                               langs=frame["lang"].to_numpy(), n_boot=config.n_boot, seed=config.seed,
                               bins=config.calibration_bins, confidence=config.confidence)
    out = Path(config.output_dir)
    provenance = {**trained["provenance"], "evaluated_data": {
        k: data.provenance.get(k) for k in ("source", "dataset_fingerprint", "export_sha256",
                                            "guidelines_version", "source_sha256")}}
    metrics = metrics_dict(scores, model=trained["model"], split=split, extra={
        "encoders": encoders_of(model),
        "timing": {"total_seconds": round(time.perf_counter() - started, 3)},
        "data": {"source": str(config.data), "sizes": {split: len(frame)}, "run_dir": str(run_dir),
                 "subset": str(config.subset)},
        "provenance": provenance})
    with staged_output(out, last=("metrics.json",)) as staging:
        write_metrics(staging / "metrics.json", metrics)
        write_errors(staging / "errors.csv", frame, pred, proba, labels)
        if config.plots:
            from training.plots import plot_confusion

            plot_confusion(scores.confusion, labels, staging / "confusion_matrix.png",
                           title=f"{trained['model']} on {Path(config.data).name} ({split})")
    return EvaluateResult(out, scores)


def run_from_config(cfg: DictConfig) -> EvaluateResult:
    result = run_evaluate(to_dataclass(cfg, EvaluateConfig))
    if isinstance(result, dict):  # a source-span run
        print(f"source spans on {result['articles']} articles: exact F1 {result['source_f1_exact']:.3f}, "
              f"token F1 {result['source_f1_token']:.3f} -> {cfg.output_dir}/metrics.json")
        return result
    lo, hi = result.scores.macro_f1_ci
    print(f"macro-F1 {result.scores.macro_f1:.3f} [{lo:.3f}, {hi:.3f}] on {result.scores.n} items "
          f"-> {result.output_dir}/metrics.json")
    return result
