"""The choice settings of aggregation and overlap, apart from the code that uses them, so that a
config schema (and `srcrel build --help`) imports no pandas or crowd-kit."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Method", "OverlapAnswers", "TiePolicy"]


class Method(StrEnum):
    majority = "majority"
    dawid_skene = "dawid_skene"
    mace = "mace"
    glad = "glad"


class TiePolicy(StrEnum):
    """unresolved: left out (-> adjudication queue); random: a seeded draw; label_order: first listed."""

    unresolved = "unresolved"
    random = "random"
    label_order = "label_order"


class OverlapAnswers(StrEnum):
    """all: every answer counts (more information, uneven coverage); first: the first k by time."""

    all = "all"
    first = "first"

SOURCE_OUTSIDE = "source_outside"  # the screen's "the source is outside this sentence" tick (its from_name)
