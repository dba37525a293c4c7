from __future__ import annotations

import pytest

from srcrel.cli import compose_stage_config
from srcrel_core.errors import ConfigError
from srcrel_core.settings import CONFIG_DIR, to_dataclass
from training.config import EvaluateConfig, ReportConfig, TrainConfig
from training.features import load_lexicon
from training.models import build_features, build_model

REQUIRED = ["dataset=DIR", "output_dir=OUT"]


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def _train(overrides: list[str]) -> TrainConfig:
    return to_dataclass(compose_stage_config("train", [*REQUIRED, *overrides]), TrainConfig)


@pytest.mark.parametrize("model", _options("model"))
def test_every_model_option_composes_and_instantiates(model):
    config = _train([f"model={model}"])
    assert config.model.name == model
    assert build_model(config.model, config.features) is not None


@pytest.mark.parametrize("features", _options("features"))
def test_every_features_option_composes_and_instantiates(features):
    config = _train([f"features={features}"])
    assert config.features.name == features
    assert build_features(config.features).transformers


@pytest.mark.parametrize("experiment", _options("experiment"))
def test_every_experiment_composes_and_instantiates(experiment):
    config = _train([f"experiment={experiment}"])
    assert config.label_set == "checkthat" and config.refit_on_validation
    build_model(config.model, config.features)


def test_each_model_brings_its_features_and_the_command_line_wins():
    assert _train(["model=embed_logreg"]).features.embeddings
    assert not _train(["model=embed_logreg", "features=tfidf"]).features.embeddings


@pytest.mark.parametrize("lexicon", _options("lexicon"))
def test_every_lexicon_loads(lexicon):
    assert load_lexicon(lexicon)


def test_evaluate_and_report_compose():
    evaluate = to_dataclass(compose_stage_config("evaluate", ["run_dir=R", "data=D", "output_dir=O"]),
                            EvaluateConfig)
    assert evaluate.split == "test"
    report = to_dataclass(compose_stage_config("report", ["runs=runs/*"]), ReportConfig)
    assert report.runs == "runs/*"


def test_a_misspelled_key_fails_at_composition():
    with pytest.raises(Exception, match="modle"):
        compose_stage_config("train", [*REQUIRED, "modle.C=1"])


def test_a_missing_required_setting_names_it():
    with pytest.raises(ConfigError, match="dataset"):
        to_dataclass(compose_stage_config("train", ["output_dir=OUT"]), TrainConfig)


def test_primary_configs_keep_runs_under_dot_srcrel():
    for stage in ("train", "evaluate", "report"):
        text = (CONFIG_DIR / f"{stage}.yaml").read_text()
        assert f"dir: .srcrel/runs/{stage}/" in text and "chdir: false" in text
