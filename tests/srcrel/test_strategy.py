"""srcrel/loop/strategy.py: seeded, never repeats, honours the batch size and the audit share, and
each strategy picks what it says (checked by hand on small pools)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srcrel.loop.strategy import Strategy, select_batch, uncertainty_scores

IDS = [f"s{i:03d}" for i in range(120)]
PROBA = np.random.default_rng(3).dirichlet([1.0, 1.0, 1.0], size=len(IDS))
FEATURES = np.vstack([np.random.default_rng(4).normal(loc=c, scale=0.05, size=(30, 2))
                      for c in ((0, 0), (5, 0), (0, 5), (5, 5))])  # four tight clusters of 30


def test_margin_and_entropy_rank_by_hand() -> None:
    proba = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.6, 0.3, 0.1], [1 / 3, 1 / 3, 1 / 3]])
    assert uncertainty_scores(proba, "margin") == pytest.approx([0.0, 1.0, 0.7, 1.0])
    entropy = uncertainty_scores(proba, "entropy")
    assert entropy[0] == pytest.approx(0.0) and entropy[3] == pytest.approx(np.log(3))
    assert list(np.argsort(entropy)) == [0, 1, 2, 3]  # ln 2 = 0.69 < 0.90 (0.6, 0.3, 0.1) < ln 3


@pytest.mark.parametrize("strategy", list(Strategy))
def test_a_round_is_seeded_distinct_and_sized(strategy: Strategy) -> None:
    kwargs = {"batch_size": 20, "seed": 7, "round_index": 3, "audit_share": 0.25, "strategy": strategy,
              "proba": PROBA, "features": FEATURES}
    batch = select_batch(IDS, **kwargs)  # type: ignore[arg-type]
    assert batch == select_batch(IDS, **kwargs)  # type: ignore[arg-type]
    assert len(batch) == 20 and len({c.sentence_id for c in batch}) == 20
    assert sum(c.audit for c in batch) == 5 and all(c.strategy == "audit" for c in batch if c.audit)
    assert {c.strategy for c in batch if not c.audit} == {str(strategy)}
    other_round = select_batch(IDS, **{**kwargs, "round_index": 4})  # type: ignore[arg-type]
    assert {c.sentence_id for c in other_round if c.audit} != {c.sentence_id for c in batch if c.audit}


def test_uncertainty_takes_the_least_certain_outside_the_audit_draw() -> None:
    batch = select_batch(IDS, batch_size=10, seed=0, round_index=1, audit_share=0.2, strategy="uncertainty",
                         proba=PROBA)
    audit = {c.sentence_id for c in batch if c.audit}
    scores = uncertainty_scores(PROBA)
    rest = [i for i in range(len(IDS)) if IDS[i] not in audit]
    top = {IDS[i] for i in sorted(rest, key=lambda i: -scores[i])[:8]}
    assert {c.sentence_id for c in batch if not c.audit} == top


def test_diversity_takes_one_sentence_per_cluster() -> None:
    batch = select_batch(IDS, batch_size=4, seed=0, round_index=1, audit_share=0.0, strategy="diversity",
                         proba=PROBA, features=FEATURES)
    clusters = {int(c.sentence_id[1:]) // 30 for c in batch}
    assert clusters == {0, 1, 2, 3}


def test_a_cluster_cold_start_spreads_over_the_clusters() -> None:
    batch = select_batch(IDS, batch_size=4, seed=0, round_index=0, audit_share=0.0, cold_start="cluster",
                         features=FEATURES)
    assert {c.strategy for c in batch} == {"cold_cluster"} and all(c.score is None for c in batch)
    assert {int(c.sentence_id[1:]) // 30 for c in batch} == {0, 1, 2, 3}


def test_uncertainty_diversity_takes_the_most_uncertain_of_each_cluster() -> None:
    batch = select_batch(IDS, batch_size=4, seed=0, round_index=1, audit_share=0.0,
                         strategy="uncertainty_diversity", proba=PROBA, features=FEATURES, pool_factor=30)
    scores = uncertainty_scores(PROBA)
    expected = {IDS[30 * k + int(np.argmax(scores[30 * k:30 * (k + 1)]))] for k in range(4)}
    assert {c.sentence_id for c in batch} == expected


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), size=st.integers(1, 50), share=st.floats(0, 1), seed=st.integers(0, 5))
def test_never_more_than_asked_nor_than_the_pool(n: int, size: int, share: float, seed: int) -> None:
    ids = IDS[:n]
    batch = select_batch(ids, batch_size=size, seed=seed, round_index=0, audit_share=share,
                         strategy="uncertainty", proba=PROBA[:n] if n else None)
    assert len(batch) == min(size, n) and len({c.sentence_id for c in batch}) == len(batch)
    assert {c.sentence_id for c in batch} <= set(ids)
    assert sum(c.audit for c in batch) == min(len(batch), round(len(batch) * share))


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="not_a_strategy"):
        select_batch(IDS, batch_size=5, seed=0, round_index=1, strategy="not_a_strategy", proba=PROBA)
