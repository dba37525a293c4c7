"""Simulated annotators: seeded confusion matrices applied to reference labels.

Used by the demo (annotating through Label Studio as simulated users) and by tests of the
aggregators, which must recover the matrices they were given.

>>> simulate_annotations([("s1", "opinion")], {"ann-1": [[1, 0], [0, 1]]},
...                      label_names=("sourced", "opinion"), seed=0)["label"].tolist()
['opinion']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

__all__ = ["simulate_annotations", "write_simulated_export"]


def simulate_annotations(
    references: Iterable[tuple[str, str]],
    confusions: Mapping[str, Sequence[Sequence[float]] | np.ndarray],
    *,
    label_names: Sequence[str],
    seed: int = 0,
    coverage: float = 1.0,
) -> pd.DataFrame:
    """Long table (task, worker, label): each worker labels a `coverage` share of the tasks.

    confusions[worker][i][j] = P(worker says label j | reference label i), rows in label_names order.
    """
    pairs = list(references)
    tasks = np.array([task for task, _ in pairs], dtype=object)
    index = {name: i for i, name in enumerate(label_names)}
    truth = np.array([index[label] for _, label in pairs], dtype=np.int64)
    frames = []
    for number, worker in enumerate(sorted(confusions)):
        matrix = np.asarray(confusions[worker], dtype=float)
        if matrix.shape != (len(label_names),) * 2 or not np.allclose(matrix.sum(axis=1), 1.0):
            raise ValueError(f"confusion of {worker!r} must be {len(label_names)}x{len(label_names)} "
                             "with rows summing to 1")
        rng = np.random.default_rng([seed, number])
        chosen = rng.random(len(tasks)) < coverage
        cumulative = matrix.cumsum(axis=1)[truth[chosen]]
        given = (rng.random((int(chosen.sum()), 1)) > cumulative).sum(axis=1)
        given = np.minimum(given, len(label_names) - 1)
        frames.append(pd.DataFrame({"task": tasks[chosen], "worker": worker,
                                    "label": np.asarray(label_names, dtype=object)[given]}))
    return pd.concat(frames, ignore_index=True)


def write_simulated_export(path: str | Path, sentences: pd.DataFrame, annotations: pd.DataFrame, *,
                           guidelines_version: str = "simulated", seed: int = 0) -> Path:
    """Write a Label Studio JSON snapshot (the shape `srcrel pull` saves) for simulated answers.

    sentences: sentence_id, article_id, text, prev_text, next_text, lang, title;
    annotations: task, worker, label (worker ids become `completed_by` ids). Streams per task.
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
            for worker, label in ([] if group is None else zip(group["worker"], group["label"])):
                annotation_id += 1
                answers.append({
                    "id": annotation_id, "completed_by": workers[worker], "was_cancelled": False,
                    "ground_truth": False, "lead_time": round(float(rng.gamma(2.0, 4.0)), 3),
                    "created_at": f"2026-01-01T00:00:{annotation_id % 60:02d}.000000Z",
                    "result": [{"id": f"r{annotation_id}", "type": "choices", "from_name": "label",
                                "to_name": "sentence", "origin": "manual",
                                "value": {"choices": [label]}}]})
            task = {"id": number + 1, "data": {
                "sentence_id": row.sentence_id, "article_id": row.article_id,
                "sentence": row.text, "prev_sentence": row.prev_text, "next_sentence": row.next_text,
                "title": row.title, "lang": row.lang, "guidelines_version": guidelines_version},
                "annotations": answers, "predictions": [], "drafts": [], "meta": {},
                "total_annotations": len(answers), "cancelled_annotations": 0, "project": 1}
            out.write((b"," if number else b"") + orjson.dumps(task) + b"\n")
        out.write(b"]")
    return path
