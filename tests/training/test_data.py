from __future__ import annotations

from pathlib import Path

import pytest
from datasets import ClassLabel

from srcrel_core.errors import InputError
from training.data import load_checkthat, load_data, model_inputs


def test_dataset_dir_loads_with_provenance(tiny_dataset_dir):
    data = load_data(tiny_dataset_dir)
    assert data.label_names == ("sourced", "opinion", "unverifiable")
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 48, "validation": 12, "test": 12}
    assert data.provenance["export_sha256"] == "ab" * 32
    assert set(data.splits["train"]["label"]) == set(data.label_names)
    # the dataset/ folder itself loads too, and finds provenance.json beside it
    assert load_data(tiny_dataset_dir / "dataset").provenance["dataset_fingerprint"] == "f00dfacef00dface"


def test_model_inputs_joins_the_context(tiny_dataset_dir):
    frame = load_data(tiny_dataset_dir).splits["train"]
    X = model_inputs(frame)
    assert list(X.columns) == ["text", "context"]
    assert X["context"].iloc[1] == "Le contexte précède. Puis la suite."


def test_checkthat_folder_becomes_the_contract_shape(needs_checkthat):
    dd = load_checkthat(needs_checkthat / "english")
    assert set(dd) == {"train", "validation", "test"}
    assert isinstance(dd["train"].features["label"], ClassLabel)
    assert dd["train"].features["label"].names == ["OBJ", "SUBJ"]
    for column in ("sentence_id", "article_id", "text", "prev_text", "next_text", "lang", "label",
                   "label_source", "soft_label", "agreement"):
        assert column in dd["train"].column_names
    data = load_data(needs_checkthat / "english")
    sizes = {k: len(v) for k, v in data.splits.items()}
    assert sizes == {"train": 830, "validation": 462, "test": 484}  # README figures
    assert data.splits["train"]["label"].value_counts().to_dict() == {"OBJ": 532, "SUBJ": 298}
    assert set(data.splits["test"]["lang"]) == {"en"}


def test_single_tsv_is_a_test_split(tmp_path: Path):
    tsv = tmp_path / "unseen_xx.tsv"
    tsv.write_text("sentence_id\tsentence\tlabel\n1\tHe said so.\tOBJ\n2\tWhat a shame!\tSUBJ\n")
    data = load_data(tsv, labels="checkthat")
    assert list(data.splits) == ["test"] and len(data.splits["test"]) == 2
    assert data.splits["test"]["lang"].tolist() == ["xx", "xx"]


def test_tsv_with_a_foreign_label_names_the_fix(tmp_path: Path):
    tsv = tmp_path / "x.tsv"
    tsv.write_text("sentence_id\tsentence\tlabel\n1\tHe said so.\tMAYBE\n")
    with pytest.raises(InputError, match="MAYBE.*label_set=NAME"):
        load_data(tsv)


def test_missing_path_and_wrong_folder_are_input_errors(tmp_path: Path):
    with pytest.raises(InputError, match="does not exist"):
        load_data(tmp_path / "nope")
    with pytest.raises(InputError, match="neither a dataset dir"):
        load_data(tmp_path)
