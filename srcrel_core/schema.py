"""The dataset schema, declared once: `srcrel build` writes it, training reads it, tests use it.

A srcrel dataset is a `datasets.DatasetDict` with the splits below, one row per labelled
sentence: text columns, a ClassLabel `label` whose names are the label set's, where the label
came from, the vote distribution (soft label), each annotation (with its source spans), the
item's agreement and its aggregated source span.
"""

from __future__ import annotations

from collections.abc import Sequence

from datasets import ClassLabel, Features, List, Value

from srcrel_core.splits import SPLITS

__all__ = ["LOOP_COLUMNS", "MODEL_COLUMNS", "SOURCE_COLUMNS", "SPAN", "SPLITS", "TEXT_COLUMNS", "dataset_features"]

TEXT_COLUMNS = ("sentence_id", "article_id", "text", "prev_text", "next_text", "lang", "title",
                "url", "outlet", "published", "guidelines_version")
# what a model sees of a row (training/data.py); the other text columns are provenance
MODEL_COLUMNS = ("sentence_id", "article_id", "text", "prev_text", "next_text", "lang", "label")
# how a sentence came to be labelled (`srcrel loop next`): its round (null: pushed by plain
# `srcrel push`), whether it is in the uniform-random audit sample, the strategy that chose it,
# whether annotators saw the model's answer pre-filled, and that answer
LOOP_COLUMNS = {"round": Value("int32"), "audit": Value("bool"), "strategy": Value("string"),
                "prefilled": Value("bool"), "model_label": Value("string")}
# who is the source (labeling/annotations/spans.py): offsets into the sentence `text`, end exclusive
SPAN = {"start": Value("int32"), "end": Value("int32"), "text": Value("string")}
ANNOTATION = {"worker": Value("string"), "label": Value("string"), "lead_time": Value("float32"),
              "origin": Value("string"), "source_spans": List(SPAN), "source_outside": Value("bool")}
# the sentence's aggregated source: also as offsets into the article (null when build had no sentences file)
SOURCE_COLUMNS = {"source_span": List({**SPAN, "article_start": Value("int32"), "article_end": Value("int32")}),
                  "source_outside": Value("bool")}


def dataset_features(label_names: Sequence[str], *, text_columns: Sequence[str] = TEXT_COLUMNS,
                     annotations: bool = True) -> Features:
    """The Features of a srcrel dataset; data with no annotators (CheckThat TSVs) leaves out
    `annotations` and may carry fewer text columns."""
    return Features({
        **{name: Value("string") for name in text_columns},
        "label": ClassLabel(names=list(label_names)),
        "label_source": Value("string"),
        "soft_label": List(Value("float32")),
        **({"annotations": List(ANNOTATION)} if annotations else {}),
        "agreement": Value("float32"),
        **(LOOP_COLUMNS if annotations else {}),
        **(SOURCE_COLUMNS if annotations else {}),
    })
