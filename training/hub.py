"""A model named by a folder or a Hugging Face hub id, as a local folder and a hash of its files.

`features.encoder`, `model.pretrained` and `span.pretrained` take either form. A folder is used as
it is; a hub id is fetched once into the Hugging Face cache by `huggingface_hub.snapshot_download`
(only what loading needs: configs, tokenizer files, safetensors weights), then read from there.
With `HF_HUB_OFFLINE=1` (srcrel's tests, CI, a machine without a network) only the cache answers;
a hub id that is not in it fails in one line that names HF_HUB_OFFLINE and the folder form.

`folder_sha256` is what caches and model cards key on: the model's files, not its name, so a
renamed copy shares vectors and a retrained one never does.
"""

from __future__ import annotations

import hashlib
import os
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path

from srcrel_core.errors import ConfigError

__all__ = ["file_sha256", "folder_sha256", "is_path_like", "resolve_model"]

# what a transformers or sentence-transformers model needs to load (subfolders too: ST's 1_Pooling/...;
# a module's PyTorch weights when it ships no safetensors, as some 2_Dense/ do)
_ALLOW = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", "*merges*", "*vocab*", "*/pytorch_model.bin"]
_IGNORE = ["onnx/*", "openvino/*", "*.onnx", "*.h5", "*.msgpack", "*.ot", "*.gguf"]
# the files folder_sha256 reads: those loading reads (no README, no srcrel_encoder.json with its date)
_HASHED = ("*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", "*.bin")
_NOT_HASHED = ("srcrel_encoder.json",)
_SKIPPED_DIRS = ("onnx", "openvino", "checkpoint-*", "runs")


def is_path_like(source: str) -> bool:
    """A filesystem path rather than a hub id (`org/name` or `name`)."""
    return source.startswith((".", "/", "~")) or source.count("/") > 1 or os.sep != "/" and os.sep in source


def resolve_model(source: str, *, setting: str) -> Path:
    """The local folder of `source` (a folder, or a hub id fetched into the Hugging Face cache)."""
    folder = Path(source).expanduser()
    if folder.is_dir():
        return folder.resolve()
    if is_path_like(source) or not source:
        raise ConfigError(f"{setting}={source} is not a folder: give a model folder (config.json and weights "
                          f"inside) or a Hugging Face hub id such as sentence-transformers/paraphrase-"
                          f"multilingual-mpnet-base-v2")
    return _fetch(source, setting)


@lru_cache(maxsize=16)  # one hub lookup per id and process
def _fetch(repo_id: str, setting: str) -> Path:
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError
    except ImportError as exc:  # the finetune extra brings it (transformers depends on it)
        raise ConfigError(f"{setting}={repo_id}: a hub id needs the finetune extra (make finetune-install), "
                          f"or give a model folder") from exc
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=_ALLOW, ignore_patterns=_IGNORE))
        if not any(folder.rglob("*.safetensors")):  # an older model: PyTorch weights only
            folder = Path(snapshot_download(repo_id, allow_patterns=["pytorch_model*.bin", "*.bin.index.json"],
                                            ignore_patterns=_IGNORE))
    except HFValidationError as exc:
        raise ConfigError(f"{setting}={repo_id} is neither a folder nor a valid hub id "
                          f"({' '.join(str(exc).split())[:160]}); give a model folder or org/name") from exc
    except Exception as exc:  # LocalEntryNotFoundError, HTTP and proxy errors, repository not found: one line
        why = ("HF_HUB_OFFLINE=1 and it is not in the local Hugging Face cache" if offline else
               f"the hub did not serve it: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}")
        raise ConfigError(f"{setting}={repo_id}: not a folder, and the hub id cannot be fetched ({why}); fetch it "
                          f"once where there is a network with HF_HUB_OFFLINE unset (hf download "
                          f"{repo_id} --local-dir DIR), then give the folder: {setting}=DIR") from exc
    return folder.resolve()


def folder_sha256(folder: Path) -> str:
    """sha256 over the files loading reads (relative path and content): configs, tokenizer files and
    weights (PyTorch .bin only where a folder has no safetensors); hidden entries, READMEs, onnx/,
    openvino/ and checkpoint-*/ left out, so what other tools add to a shared hub-cache folder does
    not change it. A hub-cache file that links to an LFS blob is named by its content's sha256: that
    name stands for reading it."""
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and _hashed(p.relative_to(folder))]
    with_safetensors = {p.parent for p in files if p.suffix == ".safetensors"}
    files = [p for p in files if p.suffix != ".bin" or p.parent not in with_safetensors]  # safetensors load first
    stamp = tuple((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _hash(folder, stamp)


def _hashed(relative: Path) -> bool:
    parts = relative.parts
    if any(part.startswith(".") for part in parts) or relative.name in _NOT_HASHED:
        return False
    if any(fnmatch(part, pattern) for part in parts[:-1] for pattern in _SKIPPED_DIRS):
        return False
    if relative.suffix == ".bin":
        return relative.name == "pytorch_model.bin" or relative.name.startswith("pytorch_model-")
    return any(fnmatch(relative.name, pattern) for pattern in _HASHED)


@lru_cache(maxsize=32)
def _hash(folder: Path, stamp: tuple[tuple[str, int, int], ...]) -> str:
    """Hashed once per process for the same files, sizes and modification times."""
    outer = hashlib.sha256()
    for relative, _, _ in stamp:
        outer.update(f"{relative}\0{file_sha256(folder / relative)}\n".encode())
    return outer.hexdigest()


def file_sha256(path: Path) -> str:
    """The sha256 of a file's content (hex); a hub-cache link to an LFS blob is not read: its name is it."""
    target = path.resolve()
    if path.is_symlink() and target.parent.name == "blobs" and len(target.name) == 64:
        return target.name
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
