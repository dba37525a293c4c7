"""What the annotator reads around a sentence: a window of the same article's sentences (or the
whole article), with a visible mark where a paragraph starts (the guidelines' rule that
reported speech ends at a new paragraph needs it). Built at push from tasks.json, as plain text
that Label Studio's <Text> escapes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from labeling.studio.config import ContextMode, InterfaceSettings

__all__ = ["CONTEXT_FIELDS", "PARAGRAPH_MARK", "add_context"]

CONTEXT_FIELDS = ("context_before", "context_after", "paragraph_mark")
PARAGRAPH_MARK = "¶"


def add_context(rows: Sequence[dict[str, Any]], settings: InterfaceSettings) -> list[dict[str, Any]]:
    """Each task's data with context_before, context_after and paragraph_mark, never crossing
    its article. Rows without an article or index get their prev/next sentence only."""
    articles: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("article_id") not in (None, "") and isinstance(row.get("index"), int):
            articles[str(row["article_id"])].append(row)
    order = {aid: sorted(items, key=lambda r: r["index"]) for aid, items in articles.items()}
    position = {id(r): i for items in order.values() for i, r in enumerate(items)}
    out = []
    for row in rows:
        items = order.get(str(row.get("article_id")))
        if not items or id(row) not in position:
            out.append({**row, "context_before": row.get("prev_sentence") or "",
                        "context_after": row.get("next_sentence") or "", "paragraph_mark": ""})
            continue
        i = position[id(row)]
        whole = settings.context == ContextMode.article
        before = items[: i] if whole else items[max(0, i - settings.context_before): i]
        after = items[i + 1:] if whole else items[i + 1: i + 1 + settings.context_after]
        previous = items[i - 1] if i else None
        out.append({**row,
                    "context_before": _render(before, items[i - len(before) - 1] if i - len(before) > 0 else None)
                    or ("(start of the article)" if i == 0 else ""),
                    "context_after": _render(after, row) or ("(end of the article)" if i == len(items) - 1 else ""),
                    "paragraph_mark": _mark(row, previous)})
    return out


def _starts_paragraph(row: dict[str, Any], previous: dict[str, Any] | None) -> bool:
    return previous is None or row.get("paragraph", 0) != previous.get("paragraph", 0)


def _mark(row: dict[str, Any], previous: dict[str, Any] | None) -> str:
    if previous is None:
        return f"{PARAGRAPH_MARK} The highlighted sentence opens the article."
    if _starts_paragraph(row, previous):
        return f"{PARAGRAPH_MARK} The highlighted sentence opens a new paragraph."
    return ""


def _render(items: Sequence[dict[str, Any]], previous: dict[str, Any] | None) -> str:
    """Sentences as text: a paragraph start gets a blank line and the ¶ mark."""
    parts: list[str] = []
    for item in items:
        text = str(item.get("sentence") or "")
        if _starts_paragraph(item, previous):
            parts.append(("\n\n" if parts else "") + f"{PARAGRAPH_MARK} {text}")
        else:
            parts.append((" " if parts else "") + text)
        previous = item
    return "".join(parts)
