from __future__ import annotations

from labeling.annotations.label_issues import find_likely_label_errors
from tests.labeling.conftest import LABELS, make_corpus


def test_flipped_labels_rank_near_the_top() -> None:
    sentences, truth = make_corpus(40, 10, seed=4)
    items = sentences.assign(label=truth.reindex(sentences["sentence_id"]).to_numpy())
    flipped = items["sentence_id"].iloc[[5, 50, 150, 250, 350]].tolist()
    for sid in flipped:
        row = items.index[items["sentence_id"] == sid][0]
        items.loc[row, "label"] = "opinion" if items.loc[row, "label"] != "opinion" else "sourced"
    issues = find_likely_label_errors(items, label_names=LABELS, seed=0)
    assert issues.n_checked == len(items) and not issues.skipped_reason
    top = issues.ranked["sentence_id"].head(len(flipped) + 5).tolist()
    assert set(flipped) <= set(top)
    assert list(issues.ranked["rank"]) == list(range(1, len(issues.ranked) + 1))
    assert (issues.ranked["suggested_label"] != issues.ranked["label"]).all()


def test_too_few_articles_is_skipped_with_a_reason() -> None:
    sentences, truth = make_corpus(3, 5, seed=0)
    items = sentences.assign(label=truth.reindex(sentences["sentence_id"]).to_numpy())
    issues = find_likely_label_errors(items, label_names=LABELS, n_splits=5)
    assert issues.ranked.empty and "at least 5 articles" in issues.skipped_reason
