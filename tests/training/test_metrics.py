from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from training.metrics import (
    bootstrap_ci,
    expected_calibration_error,
    resample_indices,
    resample_scores,
    score_predictions,
)

LABELS = ("sourced", "opinion", "unverifiable")


@pytest.fixture()
def predictions():
    rng = np.random.default_rng(3)
    gold = rng.choice(LABELS, size=200, p=[0.5, 0.3, 0.2])
    pred = np.where(rng.random(200) < 0.7, gold, rng.choice(LABELS, size=200))
    langs = rng.choice(["fr", "en"], size=200)
    proba = rng.dirichlet([1, 1, 1], size=200)
    return gold, pred, langs, proba


def test_scores_equal_scikit_learn(predictions):
    gold, pred, langs, proba = predictions
    s = score_predictions(gold, pred, labels=LABELS, proba=proba, langs=langs, n_boot=200)
    assert s.macro_f1 == pytest.approx(f1_score(gold, pred, labels=list(LABELS), average="macro"))
    assert s.accuracy == pytest.approx(accuracy_score(gold, pred))
    p, r, f, n = precision_recall_fscore_support(gold, pred, labels=list(LABELS))
    for i, label in enumerate(LABELS):
        assert s.per_class[label]["precision"] == pytest.approx(p[i])
        assert s.per_class[label]["recall"] == pytest.approx(r[i])
        assert s.per_class[label]["f1"] == pytest.approx(f[i])
        assert s.per_class[label]["support"] == n[i]
    assert s.confusion == confusion_matrix(gold, pred, labels=list(LABELS)).tolist()
    for lang in ("fr", "en"):
        mask = langs == lang
        assert s.per_language[lang]["n"] == mask.sum()
        assert s.per_language[lang]["macro_f1"] == pytest.approx(
            f1_score(gold[mask], pred[mask], labels=list(LABELS), average="macro"))


def test_bootstrap_ci_brackets_the_estimate_and_is_reproducible(predictions):
    gold, pred, _, _ = predictions
    ci = bootstrap_ci(gold, pred, labels=LABELS, n_boot=500, seed=1)
    point = f1_score(gold, pred, labels=list(LABELS), average="macro")
    assert ci["macro_f1"][0] < point < ci["macro_f1"][1]
    assert ci == bootstrap_ci(gold, pred, labels=LABELS, n_boot=500, seed=1)
    # the per-resample macro-F1 matches scikit-learn on one resample, checked by hand
    rng = np.random.default_rng(1)
    idx = rng.integers(0, len(gold), size=(500, len(gold)))[0]
    one = bootstrap_ci(gold[idx], pred[idx], labels=LABELS, n_boot=0)
    assert np.isnan(one["macro_f1"][0])


def test_bootstrap_of_perfect_predictions_is_a_point():
    gold = np.array(["a", "b"] * 20)
    ci = bootstrap_ci(gold, gold, labels=("a", "b"), n_boot=100)
    assert ci["macro_f1"] == (1.0, 1.0) and ci["accuracy"] == (1.0, 1.0)


def test_expected_calibration_error_by_hand():
    # two bins used: conf 0.9 (2 items, 1 correct -> |0.5-0.9| = 0.4) and conf 0.6 (2 items, both
    # correct -> |1-0.6| = 0.4): ECE = 0.5*0.4 + 0.5*0.4 = 0.4
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    gold = np.array(["a", "b", "a", "b"])
    assert expected_calibration_error(gold, proba, labels=("a", "b"), bins=10) == pytest.approx(0.4)


def test_every_bootstrap_resample_equals_scikit_learn_on_the_same_items(predictions):
    gold, pred, _, _ = predictions
    gold, pred = gold.copy(), pred.copy()
    pred[:5] = "not-a-label"  # a prediction outside the label set counts as wrong, as in sklearn
    gold[5:7], pred[5:7] = "other", "other"  # both outside the set and equal: right for accuracy
    gold[7], pred[7] = "out-a", "out-b"  # both outside the set but different: wrong
    f1s, accs = resample_scores(gold, pred, labels=LABELS, n_boot=60, seed=7)
    for b, idx in enumerate(resample_indices(len(gold), n_boot=60, seed=7)):
        assert f1s[b] == pytest.approx(f1_score(gold[idx], pred[idx], labels=list(LABELS), average="macro",
                                                zero_division=0), abs=1e-12)
        assert accs[b] == pytest.approx(accuracy_score(gold[idx], pred[idx]), abs=1e-12)


def test_the_confidence_level_sets_the_percentiles(predictions):
    gold, pred, _, _ = predictions
    f1s, _ = resample_scores(gold, pred, labels=LABELS, n_boot=400, seed=2)
    for level in (0.8, 0.95, 0.99):
        low, high = bootstrap_ci(gold, pred, labels=LABELS, n_boot=400, seed=2, confidence=level)["macro_f1"]
        tail = 100 * (1 - level) / 2
        assert (low, high) == (pytest.approx(np.percentile(f1s, tail)), pytest.approx(np.percentile(f1s, 100 - tail)))
    narrow = bootstrap_ci(gold, pred, labels=LABELS, n_boot=400, seed=2, confidence=0.8)["macro_f1"]
    wide = bootstrap_ci(gold, pred, labels=LABELS, n_boot=400, seed=2, confidence=0.99)["macro_f1"]
    assert wide[0] < narrow[0] and narrow[1] < wide[1]
    scores = score_predictions(gold, pred, labels=LABELS, n_boot=400, seed=2, confidence=0.8)
    assert scores.ci_level == 0.8 and scores.macro_f1_ci == narrow
