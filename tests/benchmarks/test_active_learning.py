"""benchmarks/active_learning.py: its metrics on hand-checkable curves, and a tiny synthetic run."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("active_learning", ROOT / "benchmarks" / "active_learning.py")
al = sys.modules["active_learning"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(al)

LABELS = [50, 100, 150, 200]


@pytest.mark.parametrize(("scores", "target", "expected"), [
    ([0.5, 0.6, 0.7, 0.8], 0.65, 125.0),  # halfway between 100 (0.6) and 150 (0.7)
    ([0.5, 0.6, 0.7, 0.8], 0.7, 150.0),  # exactly on a round
    ([0.5, 0.6, 0.7, 0.8], 0.4, 50.0),  # already there at the first round
    ([0.5, 0.6, 0.7, 0.8], 0.81, math.inf),  # never within the budget
    ([0.5, 0.9, 0.6, 0.95], 0.8, 50 + 50 * 0.3 / 0.4),  # the first crossing, not a later one
])
def test_labels_to_reach(scores: list[float], target: float, expected: float) -> None:
    assert al.labels_to_reach(LABELS, scores, target) == pytest.approx(expected)


def test_aulc_is_the_mean_score_over_the_label_range() -> None:
    assert al.aulc(LABELS, [0.7] * 4) == pytest.approx(0.7)
    assert al.aulc([0, 100], [0.0, 1.0]) == pytest.approx(0.5)
    assert al.aulc([0, 1, 3], [0.0, 1.0, 1.0]) == pytest.approx((0.5 + 2.0) / 3)  # uneven rounds
    assert al.aulc(LABELS, [0.5, 0.6, 0.7, 0.8]) == pytest.approx(0.65)


def test_paired_ci_pairs_by_seed() -> None:
    rng = np.random.default_rng(0)
    seed_effect = rng.normal(0, 0.2, size=10)  # large, shared by both strategies of a seed
    better = 0.7 + seed_effect + 0.01 + rng.normal(0, 0.002, size=10)
    worse = 0.7 + seed_effect
    mean, low, high = al.paired_ci(better, worse, seed=1)
    assert low > 0 and low <= mean <= high  # unpaired, the seed effect would swamp the 0.01
    assert mean == pytest.approx(np.mean(better - worse))
    assert al.paired_ci(better, worse, seed=1) == (mean, low, high)  # seeded: deterministic
    assert al.paired_ci([1, 2, 3], [0, 1, 2]) == (1.0, 1.0, 1.0)  # a constant difference
    m, lo, hi = al.paired_ci([1, -1] * 5, [0] * 10)
    assert m == 0 and lo < 0 < hi


def test_uncertainty_beats_random_on_a_separable_toy() -> None:
    from srcrel.loop.strategy import select_batch
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 10))
    y = np.where(X @ np.linspace(1, 0.1, 10) > 0.3, "SUBJ", "OBJ")
    Xp, yp, Xe, ye = X[:1000], y[:1000], X[1000:], y[1000:]
    clf = LogisticRegression(C=100, class_weight="balanced", max_iter=5000)
    area = {}
    for name in ("random", "uncertainty"):
        spec = al.STRATEGIES[name]
        curves = [al.run_curve(select_batch, Xp, yp, Xe, ye, clf, spec, seed=s, start=10, step=10,
                               budget=120, audit=False) for s in range(3)]
        assert curves[0]["labels"] == list(range(10, 130, 10))
        area[name] = np.asarray([al.aulc(c["labels"], c["f1"]) for c in curves])
    mean, low, _ = al.paired_ci(area["uncertainty"], area["random"])
    assert mean > 0.01 and low > 0 and (area["uncertainty"] > area["random"]).all()


def test_audit_estimate_tracks_truth_where_the_naive_one_is_optimistic_or_pessimistic() -> None:
    from srcrel.loop.strategy import select_batch
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1500, 10))
    y = np.where(X @ np.linspace(1, 0.1, 10) + rng.normal(0, 0.5, 1500) > 0.3, "SUBJ", "OBJ")
    clf = LogisticRegression(C=10, class_weight="balanced", max_iter=5000)
    run = al.run_curve(select_batch, X[:1000], y[:1000], X[1000:], y[1000:], clf,
                       al.STRATEGIES["unc80_rand20"], seed=0, start=50, step=50, budget=400, audit=True)
    errors = np.asarray(run["audit_err"])  # rounds x (audit - truth, naive - truth)
    assert errors.shape == (8, 2)
    # actively chosen labels sit on the boundary: CV on them underrates the model
    assert errors[2:, 1].mean() < -0.05
    assert abs(errors[2:, 0].mean()) < abs(errors[2:, 1].mean())
