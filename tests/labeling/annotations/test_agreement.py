from __future__ import annotations

import itertools

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from labeling.annotations.agreement import compute_agreement
from labeling.annotations.table import count_labels, item_agreement
from tests.conftest import shared_path
from tests.reference_data import (
    BABE_OPINION_LABELS,
    POLNEAR_LABELS,
    load_babe_opinion,
    load_polnear_multi,
)

# t1: x x x (1 agreeing share) | t2: x y y (1/3) | t3: y y . (1) | t4: x . y (0)
TOY = pd.DataFrame(
    [("t1", "a", "x"), ("t1", "b", "x"), ("t1", "c", "x"),
     ("t2", "a", "x"), ("t2", "b", "y"), ("t2", "c", "y"),
     ("t3", "a", "y"), ("t3", "b", "y"),
     ("t4", "a", "x"), ("t4", "c", "y")],
    columns=["task", "worker", "label"],
)


def _reliability(table: pd.DataFrame, labels: tuple[str, ...]) -> np.ndarray:
    codes = {label: i for i, label in enumerate(labels)}
    wide = table.assign(code=table["label"].map(codes)).pivot(index="worker", columns="task",
                                                              values="code")
    return wide.to_numpy(dtype=float)


def test_toy_table_matches_hand_computation_and_libraries() -> None:
    report = compute_agreement(TOY, labels=("x", "y"), bootstrap_n=0)
    assert report.observed.value == pytest.approx(7 / 12)
    assert report.fleiss_coverage == 3
    assert report.fleiss_kappa.value == pytest.approx(0.25)
    assert report.fleiss_kappa.value == pytest.approx(fleiss_kappa([[3, 0], [1, 2]]))
    assert report.krippendorff_alpha.value == pytest.approx(0.28)
    assert report.krippendorff_alpha.value == pytest.approx(krippendorff.alpha(
        reliability_data=_reliability(TOY, ("x", "y")), level_of_measurement="nominal"))
    kappas = {(p.worker_a, p.worker_b): p.kappa for p in report.pairwise_kappa}
    assert kappas[("a", "b")].value == pytest.approx(0.4)
    assert kappas[("a", "b")].n_items == 3
    assert kappas[("a", "c")].value == pytest.approx(cohen_kappa_score(["x", "x", "x"], ["x", "y", "y"]))
    assert np.isnan(report.krippendorff_alpha.ci_low)  # no bootstrap asked for


def test_item_agreement_is_nan_for_single_annotations() -> None:
    table = pd.concat([TOY, pd.DataFrame([("t5", "a", "x")], columns=TOY.columns)])
    per_item = item_agreement(count_labels(table, ("x", "y")))
    assert per_item.loc["t2"] == pytest.approx(1 / 3)
    assert np.isnan(per_item.loc["t5"])


def test_count_labels_rejects_labels_outside_the_set() -> None:
    with pytest.raises(ValueError, match="not in the label set"):
        count_labels(TOY, ("x",))


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    rows = [(f"t{i}", w, "x" if rng.random() < 0.7 else "y") for i in range(200) for w in "abc"]
    table = pd.DataFrame(rows, columns=["task", "worker", "label"])
    first = compute_agreement(table, labels=("x", "y"), bootstrap_n=200, seed=3)
    again = compute_agreement(table, labels=("x", "y"), bootstrap_n=200, seed=3)
    assert first == again
    assert compute_agreement(table, labels=("x", "y"), bootstrap_n=200, seed=3, threads=1) == first
    assert compute_agreement(table, labels=("x", "y"), bootstrap_n=200, seed=4) != first
    for est in (first.observed, first.krippendorff_alpha, first.fleiss_kappa,
                *first.per_label_alpha.values(), *(p.kappa for p in first.pairwise_kappa)):
        assert est.ci_low <= est.value <= est.ci_high


def test_pairwise_kappa_equals_sklearn_on_every_pair() -> None:
    rng = np.random.default_rng(1)
    rows = [(f"t{i}", w, str(rng.integers(3))) for i in range(120) for w in "abcd" if rng.random() < 0.8]
    table = pd.DataFrame(rows, columns=["task", "worker", "label"])
    report = compute_agreement(table, labels=("0", "1", "2"), bootstrap_n=0)
    wide = table.pivot(index="task", columns="worker", values="label")
    for pair in report.pairwise_kappa:
        both = wide[[pair.worker_a, pair.worker_b]].dropna()
        expected = cohen_kappa_score(both[pair.worker_a], both[pair.worker_b])
        assert pair.kappa.value == pytest.approx(expected)
    assert len(report.pairwise_kappa) == len(list(itertools.combinations("abcd", 2)))


def test_babe_sg1_reproduces_published_figures() -> None:
    table = load_babe_opinion(shared_path("babe_mbic", "raw_labels_SG1.tsv"))
    report = compute_agreement(table, labels=BABE_OPINION_LABELS, bootstrap_n=0)
    assert report.n_items == 1708
    assert round(report.observed.value, 4) == 0.5405
    assert (report.fleiss_coverage, report.fleiss_kappa.n_items) == (8, 1544)
    assert round(report.fleiss_kappa.value, 4) == 0.2897
    assert round(report.krippendorff_alpha.value, 4) == 0.2982
    assert report.krippendorff_alpha.value == pytest.approx(krippendorff.alpha(
        reliability_data=_reliability(table.groupby(["task", "worker"]).last().reset_index(),
                                      BABE_OPINION_LABELS), level_of_measurement="nominal"), abs=0.01)


def test_polnear_reproduces_published_figures() -> None:
    table = load_polnear_multi(shared_path("polnear", "multi_annotator_sentences.tsv"))
    report = compute_agreement(table, labels=POLNEAR_LABELS, bootstrap_n=0)
    assert report.n_items == 1003
    assert round(report.observed.value, 4) == 0.8828
    assert (report.fleiss_coverage, report.fleiss_kappa.n_items) == (6, 889)
    assert round(report.fleiss_kappa.value, 4) == 0.7193
    assert round(report.krippendorff_alpha.value, 4) == 0.7100
    assert report.krippendorff_alpha.value == pytest.approx(krippendorff.alpha(
        reliability_data=_reliability(table, POLNEAR_LABELS), level_of_measurement="nominal"))
