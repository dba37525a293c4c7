"""What the model in the loop learns from and how: the labels a Label Studio project holds so far
(a fresh `srcrel pull`, parsed into the long table, majority vote), a baseline fitted on them
with the training package's own models, and its answers on sentences no one has labelled.

Shared by `srcrel loop` (srcrel/loop/run.py) and `srcrel backend` (srcrel/backend/).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labeling.annotations.aggregate import majority_vote
from labeling.annotations.export import parse_export
from labeling.annotations.spans import aggregate_spans, read_spans
from labeling.studio.config import ProjectSettings, PullConfig, StudioSettings
from labeling.studio.pull import pull_export
from training.config import FeaturesConfig, ModelConfig
from training.data import model_inputs
from training.evaluate import predict_frame
from training.metrics import Scores, score_predictions
from training.models import build_model
from training.span_models import CrfSpanTagger, RuleSpanTagger

__all__ = ["Pulled", "Scored", "fit_baseline", "model_version", "pool_frame", "pull_labels", "score_audit",
           "score_frame"]

# the columns of every frame this module hands out (sentence_id is the index)
FRAME_COLUMNS = ("article_id", "text", "prev_text", "next_text", "lang")


@dataclass(frozen=True)
class Pulled:
    """A project's state in one export: every task (sentence_id index, with the loop's task fields
    as text) and the sentences with a majority label (`labels`, a frame with `label`, `audit`)."""

    export: Path
    tasks: pd.DataFrame
    labels: pd.DataFrame
    n_annotations: int

    @property
    def last_round(self) -> int:
        """The highest `loop_round` among the project's tasks (-1: none pushed by the loop)."""
        rounds = pd.to_numeric(self.tasks["round"].replace("", None), errors="coerce").dropna()
        return int(rounds.max()) if len(rounds) else -1


@dataclass(frozen=True)
class Scored:
    """A model's answers on a frame: predicted label names, probabilities in label-set order."""

    pred: np.ndarray
    proba: np.ndarray


def pull_labels(*, project: ProjectSettings, studio: StudioSettings, output_dir: Path,
                label_names: Sequence[str]) -> Pulled:
    """Pull every task of the project (labelled or not) and take the majority label of each
    labelled one; a tie leaves the sentence out until someone breaks it."""
    pulled = pull_export(PullConfig(project=project, output_dir=str(output_dir), studio=studio,
                                    only_with_annotations=False))
    parsed = parse_export(pulled.export_path, label_names=label_names)
    votes = majority_vote(parsed.annotations, labels=label_names, tie_policy="unresolved").dropna()
    tasks = parsed.tasks
    labelled = tasks.reindex(votes.index.astype(str))
    spans = read_spans(parsed.annotations, tasks["text"])  # who is the source, by word majority
    consensus = aggregate_spans(parsed.annotations, spans, tasks["text"], votes).reindex(votes.index.astype(str))
    frame = labelled[list(FRAME_COLUMNS)].assign(
        label=votes.to_numpy(dtype=object), audit=(labelled["audit"] == "true").to_numpy(),
        round=pd.to_numeric(labelled["round"].replace("", None), errors="coerce").to_numpy(),
        source_span=[s if isinstance(s, list) else [] for s in consensus["source_span"]])
    frame.index.name = "sentence_id"
    return Pulled(export=pulled.export_path, tasks=tasks, labels=frame, n_annotations=len(parsed.annotations))


def pool_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Pool rows as pushed (tasks.json data after srcrel's context) -> the frame models read."""
    frame = pd.DataFrame({
        "article_id": [str(r.get("article_id") or "") for r in rows],
        "text": [str(r.get("sentence") or "") for r in rows],
        "prev_text": [str(r.get("prev_sentence") or "") for r in rows],
        "next_text": [str(r.get("next_sentence") or "") for r in rows],
        "lang": [str(r.get("lang") or "") for r in rows],
    }, index=pd.Index([str(r["sentence_id"]) for r in rows], name="sentence_id"))
    return frame


def fit_baseline(frame: pd.DataFrame, *, model: ModelConfig, features: FeaturesConfig, seed: int = 0) -> Any | None:
    """The configured baseline fitted on `frame` (text columns + label); None with fewer than two
    labels to tell apart."""
    if frame["label"].nunique() < 2:
        return None
    estimator = build_model(model, features, seed=seed)
    return estimator.fit(model_inputs(frame), frame["label"].to_numpy(dtype=object))


def fit_span_tagger(frame: pd.DataFrame, *, min_sentences: int = 20, seed: int = 0) -> Any:
    """Who is the source, for pre-filling: a CRF on the labelled sentences' aggregated spans once
    `min_sentences` of them have one, else the cue rules."""
    rows = [(str(t), str(lang), [(int(s["start"]), int(s["end"])) for s in spans])
            for t, lang, spans in zip(frame["text"], frame["lang"], frame.get("source_span", [[]] * len(frame)))]
    if sum(1 for _, _, spans in rows if spans) < min_sentences:
        return RuleSpanTagger()
    return CrfSpanTagger(max_iterations=50).fit(rows)


def score_frame(estimator: Any, frame: pd.DataFrame, label_names: Sequence[str]) -> Scored:
    pred, proba = predict_frame(estimator, frame, label_names)
    return Scored(pred=pred, proba=proba)


def score_audit(estimator: Any, audit: pd.DataFrame, label_names: Sequence[str], *, n_boot: int = 1000,
                seed: int = 0, confidence: float = 0.95) -> Scores | None:
    """Macro-F1 (with its bootstrap CI) of the model on the audit labels; None with no audit label."""
    if estimator is None or audit.empty:
        return None
    scored = score_frame(estimator, audit, label_names)
    return score_predictions(audit["label"].to_numpy(dtype=object), scored.pred, labels=label_names,
                             proba=scored.proba, n_boot=n_boot, seed=seed, confidence=confidence)


def model_version(train: pd.DataFrame, *, round_index: int, model_name: str) -> str:
    """`<model>-r<round>-<hash of the training labels>`: the same labels give the same version."""
    digest = hashlib.sha256()
    for sid, label in sorted(zip(train.index.astype(str), train["label"].astype(str), strict=True)):
        digest.update(f"{sid}\t{label}\n".encode())
    return f"{model_name}-r{round_index}-{digest.hexdigest()[:8]}"
