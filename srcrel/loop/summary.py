"""The loop's table on screen: per round, what the model knew and what the round pushed."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from srcrel_core.progress import console

__all__ = ["audit_text", "print_rounds"]


def audit_text(record: dict[str, Any]) -> str:
    """`0.612 [0.48, 0.73] (n=40)`, or why there is no figure yet."""
    f1, ci, n = record.get("audit_macro_f1"), record.get("audit_macro_f1_ci"), record.get("audit_labels", 0)
    if f1 is None or ci is None:
        return "no model yet" if not record.get("model_version") else f"no audit label yet (n={n})"
    return f"{f1:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] (n={n})"


def print_rounds(rounds: list[dict[str, Any]], now: dict[str, Any] | None, *,
                 title: str = "active-learning rounds") -> None:
    """One row per round: labels the model was trained on (train / audit), its audit macro-F1
    with the CI, and the batch the round pushed (by strategy, pre-filled)."""
    table = Table(title=title, title_justify="left")
    for column in ("round", "labels", "train / audit", "audit macro-F1 [95% CI]", "pushed", "by strategy",
                   "pre-filled", "model_version"):
        table.add_column(column)
    for r in rounds:
        table.add_row(str(r["round"]), str(r["labels"]), f"{r['train']} / {r['audit_labels']}", audit_text(r),
                      str(r["pushed"]), ", ".join(f"{k} {v}" for k, v in r["by_strategy"].items()),
                      str(r["prefilled"]), str(r.get("model_version") or "-"))
    if now is not None:
        table.add_row("now", str(now["labels"]), f"{now['train']} / {now['audit_labels']}", audit_text(now),
                      "", "", "", str(now.get("model_version") or "-"))
    console.print(table)
    if now is not None and rounds:
        first = next((r for r in rounds if r.get("audit_macro_f1") is not None), None)
        if first is not None and now.get("audit_macro_f1") is not None:
            console.print(f"audit macro-F1 moved from {first['audit_macro_f1']:.3f} (round {first['round']}, "
                          f"{first['labels']} labels) to {now['audit_macro_f1']:.3f} now ({now['labels']} labels); "
                          "each figure is the model trained outside the audit sample, scored on it")
