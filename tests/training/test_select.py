from __future__ import annotations

from pathlib import Path

import pytest

from srcrel.cli import compose_stage_config
from srcrel_core.errors import ConfigError
from srcrel_core.settings import to_dataclass
from training.config import TrainConfig
from training.data import load_data
from training.select import load_selection_rule, pool_for_selection, select, select_by_cv


def _config(dataset: Path, *overrides: str) -> TrainConfig:
    cfg = compose_stage_config("train", [f"dataset={dataset}", "output_dir=unused", *overrides])
    return to_dataclass(cfg, TrainConfig)


def test_every_candidate_of_the_checkthat_rule_composes(tmp_path: Path):
    rule = load_selection_rule("checkthat")
    assert rule.folds == 5 and len(rule.candidates) > 1
    names = {_config(tmp_path, *c).model.name for c in rule.candidates}
    assert "combined_logreg" in names


def test_select_by_cv_picks_the_better_candidate_and_only_one(tiny_dataset_dir: Path):
    data = load_data(str(tiny_dataset_dir))
    pool = pool_for_selection(data)
    assert len(pool) == len(data.splits["train"]) + len(data.splits.get("validation", pool.iloc[:0]))
    assert not set(pool["sentence_id"]) & set(data.splits["test"]["sentence_id"])
    candidates = [_config(tiny_dataset_dir, "model=majority"),
                  _config(tiny_dataset_dir, "model=tfidf_logreg", "model.C=10")]
    table = select_by_cv(pool, candidates, labels=data.label_names, folds=3)
    assert table["chosen"].sum() == 1
    assert table.loc[table["chosen"], "model"].item() == "tfidf_logreg"
    assert table["cv_mean"].iloc[1] > table["cv_mean"].iloc[0]


def test_a_tie_goes_to_the_candidate_listed_first(tiny_dataset_dir: Path):
    data = load_data(str(tiny_dataset_dir))
    same = _config(tiny_dataset_dir, "model=majority")
    table = select_by_cv(pool_for_selection(data), [same, same], labels=data.label_names, folds=3)
    assert table["chosen"].tolist() == [True, False]


def test_the_dev_rule_reuses_the_checkthat_candidates_with_the_validation_protocol():
    first, dev = load_selection_rule("checkthat"), load_selection_rule("checkthat_dev")
    assert (first.protocol, dev.protocol) == ("cv", "validation")
    assert dev.candidates == first.candidates


def test_validation_protocol_fits_on_train_scores_on_validation_and_never_reads_test(tiny_dataset_dir: Path):
    data = load_data(str(tiny_dataset_dir))
    # a test split the rule must not touch: unknown labels and no text would break any model
    poisoned = data.splits["test"].assign(label="not-a-label", text=None)
    data = type(data)({**data.splits, "test": poisoned}, data.label_names, data.provenance)
    candidates = [_config(tiny_dataset_dir, "model=majority"),
                  _config(tiny_dataset_dir, "model=tfidf_logreg", "model.C=10")]
    rule = load_selection_rule("checkthat_dev")
    table = select(data, candidates, rule)
    assert table["chosen"].tolist() == [False, True]
    assert (table["score"] == table["validation_macro_f1"]).all()
    majority = table["validation_macro_f1"].iloc[0]
    assert majority < table["validation_macro_f1"].iloc[1]
    # the majority class of train predicted for every validation row: macro-F1 of that, by hand
    validation = data.splits["validation"]
    share = (validation["label"] == data.splits["train"]["label"].mode()[0]).mean()
    assert majority == pytest.approx(2 * share / (1 + share) / len(data.label_names))


def test_cv_protocol_scores_match_select_by_cv(tiny_dataset_dir: Path):
    data = load_data(str(tiny_dataset_dir))
    candidates = [_config(tiny_dataset_dir, "model=majority"), _config(tiny_dataset_dir, "model=tfidf_logreg")]
    rule = type(load_selection_rule("checkthat"))(folds=3, seed=0, candidates=(("a",), ("b",)))
    table = select(data, candidates, rule)
    direct = select_by_cv(pool_for_selection(data), candidates, labels=data.label_names, folds=3)
    assert table["score"].tolist() == direct["cv_mean"].tolist()


@pytest.mark.parametrize("body", ["folds: 5\n", "candidates: [model=majority]\n", "candidates: []\n",
                                  "protocol: holdout\ncandidates: [[model=majority]]\n"])
def test_a_malformed_rule_names_the_file(tmp_path: Path, body: str):
    path = tmp_path / "rule.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match="rule.yaml"):
        load_selection_rule(str(path))


def test_same_candidates_as_goes_one_level_only(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(f"same_candidates_as: {tmp_path / 'b.yaml'}\n")
    (tmp_path / "b.yaml").write_text(f"same_candidates_as: {tmp_path / 'a.yaml'}\n")
    with pytest.raises(ConfigError, match="must list its own candidates"):
        load_selection_rule(str(tmp_path / "a.yaml"))
