from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labeling.annotations.aggregate import aggregate, majority_vote, soft_labels
from labeling.annotations.decisions import (
    apply_adjudications,
    read_adjudications,
    select_for_adjudication,
)
from labeling.annotations.synthetic import simulate_annotations
from labeling.annotations.table import count_labels, item_agreement
from srcrel_core.errors import InputError
from tests.labeling.conftest import LABELS

# s1: clear opinion | s2: tie sourced/opinion | s3: three-way tie | s4: one answer
VOTES = pd.DataFrame(
    [("s1", "a", "opinion"), ("s1", "b", "opinion"), ("s1", "c", "sourced"),
     ("s2", "a", "sourced"), ("s2", "b", "opinion"),
     ("s3", "a", "unverifiable"), ("s3", "b", "opinion"), ("s3", "c", "sourced"),
     ("s4", "a", "unverifiable")],
    columns=["task", "worker", "label"],
)


@pytest.mark.parametrize(("policy", "order", "expected"), [
    ("unresolved", (), {"s1": "opinion", "s2": None, "s3": None, "s4": "unverifiable"}),
    ("label_order", (), {"s1": "opinion", "s2": "sourced", "s3": "sourced", "s4": "unverifiable"}),
    ("label_order", ("unverifiable", "opinion", "sourced"),
     {"s1": "opinion", "s2": "opinion", "s3": "unverifiable", "s4": "unverifiable"}),
])
def test_majority_vote_tie_policies(policy: str, order: tuple[str, ...], expected: dict) -> None:
    result = majority_vote(VOTES, labels=LABELS, tie_policy=policy, label_order=order)  # type: ignore[arg-type]
    assert {k: (None if pd.isna(v) else v) for k, v in result.items()} == expected


def test_random_ties_are_seeded_and_pick_among_the_tied() -> None:
    draws = {seed: majority_vote(VOTES, labels=LABELS, tie_policy="random", seed=seed) for seed in range(20)}
    assert all(d["s1"] == "opinion" for d in draws.values())
    assert {d["s2"] for d in draws.values()} == {"sourced", "opinion"}
    assert {d["s3"] for d in draws.values()} == set(LABELS)
    assert draws[7].equals(majority_vote(VOTES, labels=LABELS, tie_policy="random", seed=7))


def test_soft_labels_are_vote_shares_in_label_set_order() -> None:
    soft = soft_labels(VOTES, labels=LABELS)
    assert list(soft.columns) == list(LABELS)
    assert soft.loc["s1"].tolist() == pytest.approx([1 / 3, 2 / 3, 0])
    assert np.allclose(soft.sum(axis=1), 1)


def test_controls_override_the_aggregate() -> None:
    agg = aggregate(VOTES, labels=LABELS, controls=pd.Series({"s1": "sourced", "zz": "opinion"}))
    assert agg.labels["s1"] == "sourced" and agg.label_source["s1"] == "control"
    assert list(agg.unresolved) == ["s2", "s3"] and "zz" not in agg.labels.index


def test_dawid_skene_recovers_simulated_confusions() -> None:
    rng = np.random.default_rng(5)
    truth = [(f"s{i}", LABELS[rng.choice(3, p=[0.45, 0.35, 0.2])]) for i in range(4000)]
    confusions = {
        "good": [[0.92, 0.05, 0.03], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]],
        "biased": [[0.7, 0.25, 0.05], [0.05, 0.9, 0.05], [0.3, 0.1, 0.6]],
        "noisy": [[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]],
        "careful": [[0.85, 0.05, 0.1], [0.1, 0.8, 0.1], [0.05, 0.05, 0.9]],
        "fast": [[0.8, 0.1, 0.1], [0.1, 0.75, 0.15], [0.15, 0.1, 0.75]],
    }
    answers = simulate_annotations(truth, confusions, label_names=LABELS, seed=11)
    agg = aggregate(answers, labels=LABELS, method="dawid_skene")
    for worker, expected in confusions.items():
        estimated = agg.confusions[worker]
        assert list(estimated.index) == list(LABELS) == list(estimated.columns)
        assert np.abs(estimated.to_numpy() - np.asarray(expected)).max() < 0.05, worker
    reference = pd.Series(dict(truth)).reindex(agg.labels.index)
    majority = majority_vote(answers, labels=LABELS, tie_policy="random")
    assert (agg.labels == reference).mean() > (majority == reference).mean()


@pytest.mark.parametrize("method", ["mace", "glad"])
def test_other_crowdkit_models_label_every_task(method: str) -> None:
    truth = [(f"s{i}", LABELS[i % 3]) for i in range(300)]
    confusions = {"a": np.eye(3) * 0.9 + 1 / 30, "b": np.eye(3) * 0.6 + 0.4 / 3,
                  "c": np.eye(3) * 0.3 + 0.7 / 3}
    answers = simulate_annotations(truth, confusions, label_names=LABELS, seed=1)
    answers = answers.sample(frac=1.0, random_state=0)  # skills must not depend on row order
    agg = aggregate(answers, labels=LABELS, method=method, n_iter=20)  # type: ignore[arg-type]
    assert agg.labels.notna().all()
    assert agg.skills["a"] > agg.skills["b"] > agg.skills["c"]
    assert (agg.labels == pd.Series(dict(truth)).reindex(agg.labels.index)).mean() > 0.8


def test_simulation_follows_the_confusion_matrix() -> None:
    truth = [(f"s{i}", "sourced") for i in range(20000)]
    answers = simulate_annotations(truth, {"w": [[0.6, 0.3, 0.1], [0, 1, 0], [0, 0, 1]]},
                                   label_names=LABELS, seed=0, coverage=0.5)
    shares = answers["label"].value_counts(normalize=True)
    assert len(answers) == pytest.approx(10000, rel=0.03)
    assert shares["sourced"] == pytest.approx(0.6, abs=0.02)
    assert shares["unverifiable"] == pytest.approx(0.1, abs=0.02)
    with pytest.raises(ValueError, match="rows summing to 1"):
        simulate_annotations(truth, {"w": [[1, 1, 0]] * 3}, label_names=LABELS)


def test_adjudication_selects_ties_and_low_agreement_and_overrides(tmp_path) -> None:
    agg = aggregate(VOTES, labels=LABELS)
    per_item = item_agreement(count_labels(VOTES, LABELS))
    queue = select_for_adjudication(agg, per_item, threshold=0.5)
    assert dict(zip(queue["task"], queue["reason"])) == {"s2": "tie", "s3": "tie", "s1": "low_agreement"}
    path = tmp_path / "adjudications.csv"
    path.write_text("task,label\ns2,opinion\ns1,sourced\n")
    decided = apply_adjudications(agg, read_adjudications(path, label_names=LABELS))
    assert decided.labels["s2"] == "opinion" and decided.label_source["s2"] == "adjudicated"
    assert decided.labels["s1"] == "sourced" and list(decided.unresolved) == ["s3"]
    path.write_text("task,label\ns2,maybe\n")
    with pytest.raises(InputError, match=r"adjudications.csv:2"):
        read_adjudications(path, label_names=LABELS)
