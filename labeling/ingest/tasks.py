"""Sentence records as Label Studio tasks: the fields the labeling screen shows, plus the ids."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["TASK_FIELDS", "sentence_to_task"]

# data keys of a task; the labeling config refers to $sentence, $prev_sentence, $next_sentence, $title
TASK_FIELDS = ("sentence_id", "article_id", "index", "paragraph", "sentence", "prev_sentence", "next_sentence",
               "title", "lang")


def sentence_to_task(record: Mapping[str, Any]) -> dict[str, Any]:
    """One ingest sentence record -> one Label Studio task (`{"data": {...}}`).

    Context fields are always strings: Label Studio rejects a task whose `$variable` is missing.
    """
    return {
        "data": {
            "sentence_id": record["sentence_id"],
            "article_id": record["article_id"],
            "index": record["index"],
            "paragraph": record.get("paragraph", 0),
            "sentence": record["text"],
            "prev_sentence": record.get("prev_text") or "",
            "next_sentence": record.get("next_text") or "",
            "title": record.get("title") or "",
            "lang": record["lang"],
        }
    }
