"""The annotation guidelines as the project's instructions: Markdown rendered to escaped HTML,
versioned by the hash of the file (stored with the project and in every task)."""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path

from srcrel_core.errors import ConfigError

__all__ = ["guideline_quotes", "quoting_line", "read_guidelines"]


def read_guidelines(path: Path) -> tuple[str, str]:
    """(version, instructions HTML): version = sha256[:12] of the file; the text is escaped."""
    if not path.is_file():
        raise ConfigError(f"guidelines file {path} not found: write it or set guidelines=PATH")
    raw = path.read_bytes()
    version = hashlib.sha256(raw).hexdigest()[:12]
    return version, _render_markdown(raw.decode("utf-8")) + f"<p><small>guidelines version {version}</small></p>"


def _render_markdown(text: str) -> str:
    """Headings, list items, paragraphs and **bold** as HTML; all text escaped. List items keep
    their marker as text ("1.", "•"): Label Studio's stylesheet hides list markers, and rules
    refer to each other by number."""
    out: list[str] = []
    para: list[str] = []

    def inline(s: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(s.strip()))

    def flush() -> None:
        if para:
            out.append(f"<p>{inline(' '.join(para))}</p>")
            para.clear()

    in_item = False
    for line in [*text.splitlines(), ""]:
        item = re.match(r"^(\s*)([-*]|\d+\.) +(.*)", line)
        heading = re.match(r"^(#{1,6}) +(.*)", line)
        if in_item and not item and line.startswith(" ") and line.strip():
            out[-1] = out[-1][:-6] + " " + inline(line) + "</div>"  # a wrapped list item
            continue
        in_item = bool(item)
        if item:
            flush()
            marker = "•" if item.group(2) in "-*" else item.group(2)
            indent = "&nbsp;" * 4 * (1 + len(item.group(1)) // 2)
            out.append(f"<div>{indent}{marker} {inline(item.group(3))}</div>")
        elif heading:
            flush()
            level = min(len(heading.group(1)) + 2, 6)
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif not line.strip():
            flush()
        else:
            para.append(line)
    return "\n".join(out)


_QUOTE = re.compile(r'"([^"\n]{8,})"|“([^”\n]{8,})”|«\s*([^»\n]{8,}?)\s*»')


def _words(text: str) -> str:
    """Lower-case words joined by single spaces, padded so that `in` matches whole words only."""
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def guideline_quotes(path: Path) -> list[tuple[int, str]]:
    """(line, quoted text) of every example the guidelines quote ("…", “…”, « … », or a cell of
    a Markdown table of examples)."""
    quotes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for match in _QUOTE.finditer(line):
            quotes.append((number, next(group for group in match.groups() if group)))
        if line.lstrip().startswith("|"):
            quotes += [(number, cell.strip()) for cell in line.split("|") if len(cell.strip()) >= 8]
    return quotes


def quoting_line(sentence: str, quotes: list[tuple[int, str]]) -> int | None:
    """The guidelines line that quotes this sentence (a quote covering at least half of it), if any:
    annotators who read the guidelines know its answer, so it cannot be a control."""
    words = _words(sentence)
    for number, quote in quotes:
        quoted = _words(quote)
        if quoted.strip() and ((quoted in words and len(quoted) >= 0.5 * len(words)) or words in quoted):
            return number  # the quote covers most of the sentence, or contains all of it
    return None
