from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from datasets import ClassLabel
from hypothesis import given, settings
from hypothesis import strategies as st

from labeling.dataset.splits import SPLITS, assign_splits, build_dataset, check_no_leak
from srcrel_core.errors import DatasetError
from tests.labeling.conftest import LABELS


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 12), min_size=3, max_size=40),
       seed=st.integers(0, 2**16), exact=st.booleans(), data=st.data())
def test_splits_never_share_an_article(sizes: list[int], seed: int, exact: bool,
                                       data: st.DataObject) -> None:
    groups = np.repeat([f"a{i}" for i in range(len(sizes))], sizes)
    codes = np.array(data.draw(st.lists(st.integers(0, 2), min_size=len(groups), max_size=len(groups))))
    limit = 10_000 if exact else 0  # both the StratifiedGroupKFold and the per-article path
    split = assign_splits(codes, groups, validation=0.1, test=0.1, seed=seed, max_exact_articles=limit)
    check_no_leak(split, groups)
    assert set(split) == set(SPLITS)  # every split gets at least one article
    again = assign_splits(codes, groups, validation=0.1, test=0.1, seed=seed, max_exact_articles=limit)
    assert split.tolist() == again.tolist()


@pytest.mark.parametrize("limit", [10_000, 0])
def test_split_sizes_follow_the_fractions_and_stratify(limit: int) -> None:
    rng = np.random.default_rng(0)
    groups = np.repeat([f"a{i}" for i in range(400)], 10)
    codes = rng.choice(3, size=len(groups), p=[0.6, 0.3, 0.1])
    split = assign_splits(codes, groups, validation=0.1, test=0.1, seed=0, max_exact_articles=limit)
    shares = pd.Series(split).value_counts(normalize=True)
    assert shares["test"] == pytest.approx(0.1, abs=0.02)
    assert shares["validation"] == pytest.approx(0.1, abs=0.02)
    for name in SPLITS:
        assert (codes[split == name] == 2).mean() == pytest.approx(0.1, abs=0.03)


def test_leak_and_too_few_articles_raise_dataset_error() -> None:
    with pytest.raises(DatasetError, match=r"\['a1'\] appear in more than one split"):
        check_no_leak(np.array(["train", "test", "train"]), np.array(["a1", "a1", "a2"]))
    # two articles: a pilot, split by sentence (one of each split at least); two sentences: refused
    pilot = assign_splits(np.zeros(4, dtype=int), np.array(["a", "a", "b", "b"]), validation=0.1,
                          test=0.1, seed=0)
    assert sorted(pilot) == ["test", "train", "train", "validation"]
    with pytest.raises(DatasetError, match="only 2 labelled sentence"):
        assign_splits(np.zeros(2, dtype=int), np.array(["a", "b"]), validation=0.1, test=0.1, seed=0)
    with pytest.raises(DatasetError, match="splits.validation"):
        assign_splits(np.zeros(4, dtype=int), np.array(list("abcd")), validation=0.6, test=0.5, seed=0)


def _items(n_articles: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, answers = [], []
    for i in range(n_articles * 3):
        sid, label = f"s{i:02d}", LABELS[i % 3]
        rows.append({"sentence_id": sid, "article_id": f"a{i // 3}", "text": f"text {i}",
                     "prev_text": "", "next_text": "", "lang": "en", "title": "", "url": "",
                     "outlet": "", "published": "", "guidelines_version": "g1", "label": label,
                     "label_source": "majority", "soft_label": np.eye(3, dtype=np.float32)[i % 3],
                     "agreement": 1.0 if i % 2 else np.nan})
        answers += [(sid, "7", label, 1.5, "manual"), (sid, "3", label, None, "prediction")]
    return pd.DataFrame(rows), pd.DataFrame(answers, columns=["task", "worker", "label", "lead_time", "origin"])


def test_dataset_columns_features_and_nested_annotations() -> None:
    items, answers = _items()
    built = build_dataset(items, answers, label_names=LABELS, seed=1)
    train = built.dataset["train"]
    assert isinstance(train.features["label"], ClassLabel)
    assert train.features["label"].names == list(LABELS)
    row = built.dataset["test"][0] if built.dataset["test"].num_rows else train[0]
    assert [a["worker"] for a in row["annotations"]] == ["3", "7"]  # sorted by worker
    assert row["annotations"][0]["lead_time"] is None and row["annotations"][1]["lead_time"] == 1.5
    assert row["soft_label"] == [1.0 if j == row["label"] else 0.0 for j in range(3)]
    assert sum(built.dataset[s].num_rows for s in SPLITS) == len(items)
    assert built.dataset["train"]._fingerprint == f"{built.fingerprint}-train"
    again = build_dataset(items.sample(frac=1, random_state=3), answers.iloc[::-1], label_names=LABELS, seed=1)
    assert again.fingerprint == built.fingerprint  # input row order does not matter


def test_sentences_without_article_are_refused() -> None:
    items, answers = _items()
    items.loc[2, "article_id"] = ""
    with pytest.raises(DatasetError, match="1 sentence.*no article_id.*sentences=PATH"):
        build_dataset(items, answers, label_names=LABELS)
