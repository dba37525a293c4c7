"""Test data: a Label Studio JSON snapshot (the shape `srcrel pull` saves) of simulated answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pandas as pd

__all__ = ["write_simulated_export"]


def write_simulated_export(path: str | Path, sentences: pd.DataFrame, annotations: pd.DataFrame, *,
                           guidelines_version: str = "simulated", seed: int = 0) -> Path:
    """Write a Label Studio JSON snapshot (the shape `srcrel pull` saves) for simulated answers.

    sentences: sentence_id, article_id, text, prev_text, next_text, lang, title;
    annotations: task, worker, label (worker ids become `completed_by` ids), optionally
    source_spans ([{start, end, text}] in the sentence) and source_outside. Streams per task.
    """
    rng = np.random.default_rng(seed)
    workers = {w: number + 1 for number, w in enumerate(sorted(annotations["worker"].unique()))}
    order = annotations.sort_values(["task", "worker"], kind="stable")
    grouped = dict(iter(order.groupby("task", sort=False)))
    path = Path(path)
    annotation_id = 0
    with path.open("wb") as out:
        out.write(b"[")
        for number, row in enumerate(sentences.itertuples(index=False)):
            answers = []
            group = grouped.get(row.sentence_id)
            for i, (worker, label) in enumerate([] if group is None else zip(group["worker"], group["label"])):
                annotation_id += 1
                regions = [{"id": f"s{annotation_id}-{k}", "type": "labels", "from_name": "source_span",
                            "to_name": "sentence", "origin": "manual",
                            "value": {**span, "labels": ["Source mention"]}}
                           for k, span in enumerate(_cell(group, "source_spans", i) or [])]
                if _cell(group, "source_outside", i):
                    regions.append({"id": f"o{annotation_id}", "type": "choices", "from_name": "source_outside",
                                    "to_name": "sentence", "value": {"choices": ["outside"]}})
                answers.append({
                    "id": annotation_id, "completed_by": workers[worker], "was_cancelled": False,
                    "ground_truth": False, "lead_time": round(float(rng.gamma(2.0, 4.0)), 3),
                    "created_at": f"2026-01-01T00:00:{annotation_id % 60:02d}.000000Z",
                    "result": [{"id": f"r{annotation_id}", "type": "choices", "from_name": "label",
                                "to_name": "sentence", "origin": "manual",
                                "value": {"choices": [label]}}, *regions]})
            task = {"id": number + 1, "data": {
                "sentence_id": row.sentence_id, "article_id": row.article_id,
                "sentence": row.text, "prev_sentence": row.prev_text, "next_sentence": row.next_text,
                "title": row.title, "lang": row.lang, "guidelines_version": guidelines_version},
                "annotations": answers, "predictions": [], "drafts": [], "meta": {},
                "total_annotations": len(answers), "cancelled_annotations": 0, "project": 1}
            out.write((b"," if number else b"") + orjson.dumps(task) + b"\n")
        out.write(b"]")
    return path


def _cell(group: pd.DataFrame, column: str, i: int) -> object:
    return group[column].iloc[i] if column in group else None
