"""Who is the source: span counts and F1, shared by span agreement, the PolNeAR human ceiling and
the span baselines' evaluation, so the three figures are comparable.

A span is a tuple of `(start, end)` character fragments (end exclusive; PolNeAR's sources may have
several, srcrel's screen makes one). Two measures, both micro-averaged (counts summed over the
units, articles or sentences, then one F1):
- exact: the SET of spans of each side; a span counts when the other side has the very same one;
- token: the SET of `\\w+` tokens (by start offset) lying fully inside some span of each side.
F1 = 2·|A ∩ B| / (|A| + |B|) per pair; precision and recall treat one side as the prediction.

>>> text = "Police said 64 people were arrested."
>>> count_spans([((0, 6),)], [((0, 6),)], text).scores()["exact_f1"]
1.0
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np

__all__ = ["Span", "SpanCounts", "bootstrap_span_ci", "count_spans", "pairwise_span_f1", "place_sentences", "source_tokens",
           "to_span"]

Span = tuple[tuple[int, int], ...]
WORD = re.compile(r"\w+")


def place_sentences(texts: Sequence[str], starts: Sequence[int | None] | None = None) -> tuple[str, list[int]]:
    """An article's text rebuilt from its sentences, in order: each at its `starts` offset when it has
    one past the text so far (the gap filled with spaces), else one space after the previous one.
    Returns the text and each sentence's offset in it."""
    text, offsets = "", []
    for k, sentence in enumerate(texts):
        start = starts[k] if starts is not None else None
        at = start if start is not None and start >= len(text) else len(text) + (1 if text else 0)
        text = text.ljust(at) + sentence
        offsets.append(at)
    return text, offsets


def to_span(fragments: Iterable[Sequence[int]]) -> Span:
    """[[start, end], ...] (as JSON gives it) -> a hashable span, fragments sorted."""
    return tuple(sorted((int(s), int(e)) for s, e in fragments))


def source_tokens(text: str, spans: Iterable[Span]) -> set[int]:
    """Start offsets of the `\\w+` tokens of `text` lying fully inside some fragment of `spans`
    (overlapping fragments are merged first). Whole tokens only: a span ending mid-word holds none
    of that word."""
    merged: list[list[int]] = []
    for start, end in sorted(f for span in spans for f in span):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if not merged:
        return set()
    starts, ends = _tokens(text)
    found: set[int] = set()
    for start, end in merged:
        first = bisect.bisect_left(starts, start)
        last = bisect.bisect_right(ends, end)  # tokens are ordered and disjoint: ends sort with starts
        found.update(starts[first:last])
    return found


@functools.lru_cache(maxsize=64)
def _tokens(text: str) -> tuple[list[int], list[int]]:
    matches = list(WORD.finditer(text))
    return [m.start() for m in matches], [m.end() for m in matches]


@dataclass
class SpanCounts:
    """What both measures need: matches, predicted and reference sizes (exact spans, tokens)."""

    exact_tp: int = 0
    exact_pred: int = 0
    exact_gold: int = 0
    token_tp: int = 0
    token_pred: int = 0
    token_gold: int = 0

    def __add__(self, other: SpanCounts) -> SpanCounts:
        return SpanCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_row(self) -> list[int]:
        return [getattr(self, f.name) for f in fields(self)]

    def scores(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for kind in ("exact", "token"):
            tp, pred, gold = (getattr(self, f"{kind}_{k}") for k in ("tp", "pred", "gold"))
            out[f"{kind}_precision"] = tp / pred if pred else float("nan")
            out[f"{kind}_recall"] = tp / gold if gold else float("nan")
            out[f"{kind}_f1"] = 2 * tp / (pred + gold) if pred + gold else float("nan")
        return out


def count_spans(predicted: Iterable[Span], reference: Iterable[Span], text: str) -> SpanCounts:
    """The counts of one unit (a sentence, an article) whose spans index into `text`."""
    pred, gold = set(predicted), set(reference)
    pred_tokens, gold_tokens = source_tokens(text, pred), source_tokens(text, gold)
    return SpanCounts(len(pred & gold), len(pred), len(gold),
                      len(pred_tokens & gold_tokens), len(pred_tokens), len(gold_tokens))


def bootstrap_span_ci(rows: np.ndarray, *, n: int, confidence: float, seed: int) -> dict[str, list[float]]:
    """Percentile CIs of exact and token F1, resampling units (rows of SpanCounts.as_row()).

    A ratio of sums over resampled units: scipy's bootstrap would call a Python statistic once per
    replicate too, so this stays a few lines of numpy (one matrix product per figure)."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    if n <= 0 or len(rows) < 2:
        return {}
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(rows), np.full(len(rows), 1 / len(rows)), size=n).astype(np.float64)
    sums = weights @ rows  # n x 6
    tail = (1 - confidence) / 2 * 100
    out = {}
    for kind, (tp, pred, gold) in (("exact", (0, 1, 2)), ("token", (3, 4, 5))):
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = 2 * sums[:, tp] / (sums[:, pred] + sums[:, gold])
        low, high = np.nanpercentile(f1, [tail, 100 - tail]) if np.isfinite(f1).any() else (np.nan, np.nan)
        out[f"{kind}_f1"] = [round(float(low), 4), round(float(high), 4)]
    return out


def pairwise_span_f1(docs: Iterable[tuple[str, str, str, Sequence[Span]]]) -> dict[str, float | int]:
    """Agreement of annotators who marked the same unit: micro F1 over every unordered pair.

    docs: (unit, annotator, text, spans); units with one annotator are skipped. This is how
    PolNeAR's human ceiling is measured (data/README.md) and how srcrel's span agreement is."""
    by_unit: dict[str, dict[str, tuple[str, Sequence[Span]]]] = defaultdict(dict)
    for unit, annotator, text, spans in docs:
        by_unit[unit][annotator] = (text, spans)
    total, units, pairs = SpanCounts(), 0, 0
    for unit, marks in by_unit.items():
        if len(marks) < 2:
            continue
        if len({text for text, _ in marks.values()}) != 1:
            raise ValueError(f"the annotators of {unit!r} were shown different texts")
        units += 1
        for a, b in itertools.combinations(sorted(marks), 2):
            total += count_spans(marks[a][1], marks[b][1], marks[a][0])
            pairs += 1
    scores = total.scores()
    return {"units": units, "pairs": pairs, "exact_f1": scores["exact_f1"], "token_f1": scores["token_f1"]}
