"""PNG plots of a run: confusion matrix, learning curve, run comparison (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from training.validation import CurvePoint

__all__ = ["plot_confusion", "plot_learning_curve", "plot_runs"]


def plot_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: Path, *,
                   title: str = "") -> None:
    counts = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2.5, 1.1 * len(labels) + 2))
    ax.imshow(counts, cmap="Blues")
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            ax.text(j, i, str(int(counts[i, j])), ha="center", va="center",
                    color="white" if counts[i, j] > counts.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_learning_curve(points: Sequence[CurvePoint], path: Path, *, title: str = "") -> None:
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    n = [p.n_train for p in points]
    f1 = [p.macro_f1 for p in points]
    ax.fill_between(n, [p.macro_f1_ci[0] for p in points], [p.macro_f1_ci[1] for p in points],
                    alpha=0.25, label="95% CI (bootstrap over test items)")
    ax.plot(n, f1, marker="o", label="macro-F1")
    ax.set_xlabel("training labels")
    ax.set_ylabel("macro-F1 on test")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title or "learning curve")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_runs(table: pd.DataFrame, path: Path) -> None:
    """Bars of test macro-F1 with CI whiskers and a dot for validation macro-F1, one per run; the
    run selected on validation is drawn in orange."""
    table = table.iloc[::-1]
    names = [f"{Path(r.run).name}: {r.model}" + ("" if pd.isna(r.C) else f" C={r.C:g}")
             for r in table.itertuples()]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(table) + 1.5))
    err = np.vstack([table["macro_f1"] - table["ci_low"], table["ci_high"] - table["macro_f1"]])
    colors = ["#dd8452" if chosen else "#4c72b0" for chosen in table["selected"]]
    ax.barh(names, table["macro_f1"], xerr=np.nan_to_num(err), capsize=3, color=colors)
    ax.scatter(table["validation_macro_f1"].astype(float), names, color="black", zorder=3, s=14,
               label="validation macro-F1 (selection)")
    ax.set_xlim(0, 1)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("test macro-F1 (95% CI); orange = selected on validation")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
