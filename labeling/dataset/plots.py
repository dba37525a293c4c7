"""PNG figures for the dataset card: pairwise Cohen's κ heatmap, confusions against consensus."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt
import numpy as np

from labeling.annotations.agreement import PairKappa

__all__ = ["MAX_PANELS", "plot_confusions", "plot_pairwise_kappa"]

MAX_PANELS = 36  # beyond this a grid of confusions is unreadable; the busiest workers are drawn


def plot_pairwise_kappa(pairs: Sequence[PairKappa], path: Path) -> None:
    workers = sorted({p.worker_a for p in pairs} | {p.worker_b for p in pairs})
    index = {w: i for i, w in enumerate(workers)}
    matrix = np.full((len(workers), len(workers)), np.nan)
    for pair in pairs:
        i, j = index[pair.worker_a], index[pair.worker_b]
        matrix[i, j] = matrix[j, i] = pair.kappa.value
    np.fill_diagonal(matrix, 1.0)
    size = min(3 + 0.4 * len(workers), 16)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu")
    ax.set_xticks(range(len(workers)), workers, rotation=90, fontsize=7)
    ax.set_yticks(range(len(workers)), workers, fontsize=7)
    if len(workers) <= 12:
        for (i, j), value in np.ndenumerate(matrix):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7)
    ax.set_title("Pairwise Cohen's κ (blank: < 2 shared sentences)", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def plot_confusions(confusions: dict[str, np.ndarray], labels: Sequence[str], path: Path) -> None:
    busiest = sorted(confusions, key=lambda w: (-int(confusions[w].sum()), w))[:MAX_PANELS]
    busiest = sorted(busiest)
    cols = min(4, max(1, len(busiest)))
    rows = max(1, math.ceil(len(busiest) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.ravel()[len(busiest):]:
        ax.axis("off")
    for ax, worker in zip(axes.ravel(), busiest):
        counts = confusions[worker]
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        for (i, j), value in np.ndenumerate(counts):
            ax.text(j, i, str(int(value)), ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(labels)), labels, rotation=45, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(f"annotator {worker}", fontsize=9)
    fig.supxlabel("annotator's label")
    fig.supylabel("consensus label")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
