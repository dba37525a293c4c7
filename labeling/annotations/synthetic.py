"""Synthetic annotations: seeded confusion matrices applied to reference labels.

Used by the demo (annotating through Label Studio as simulated users) and by tests of the
aggregators, which must recover the matrices they were given.

>>> simulate_annotations([("s1", "opinion")], {"ann-1": [[1, 0], [0, 1]]},
...                      label_names=("sourced", "opinion"), seed=0)["label"].tolist()
['opinion']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["simulate_annotations"]


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
