"""The loop's choice settings, apart from srcrel/loop/strategy.py (numpy, scipy, scikit-learn), so
that its config schema imports nothing heavy."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ColdStart", "Strategy", "Uncertainty"]


class Strategy(StrEnum):
    """random: uniform; uncertainty: the least certain first; diversity: one per k-means cluster
    of the features (nearest the centre); uncertainty_diversity: the most uncertain of each
    cluster among the `pool_factor` x batch most uncertain."""

    random = "random"
    uncertainty = "uncertainty"
    diversity = "diversity"
    uncertainty_diversity = "uncertainty_diversity"


class Uncertainty(StrEnum):
    """margin: 1 - (top probability - second); entropy: Shannon entropy of the probabilities."""

    margin = "margin"
    entropy = "entropy"


class ColdStart(StrEnum):
    """How the first round (no labels, no model) is drawn: uniform, or one per k-means cluster."""

    random = "random"
    cluster = "cluster"
