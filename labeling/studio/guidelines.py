"""The annotation guidelines as the project's instructions: Markdown rendered to sanitised HTML,
versioned by the hash of the file (stored with the project and in every task)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from srcrel_core.errors import ConfigError

__all__ = ["DEFAULT", "guideline_quotes", "packaged_guidelines", "quoting_line", "read_guidelines"]


DEFAULT = "docs/guidelines.md"  # the settings' default: the checkout's file, else the packaged copy


def packaged_guidelines() -> Path:
    """srcrel's own guidelines as installed with the package (srcrel_core/guidelines.md)."""
    from importlib.resources import files

    return Path(str(files("srcrel_core") / "guidelines.md"))


def _resolve(path: Path) -> Path:
    if not path.is_file() and path.as_posix() == DEFAULT and packaged_guidelines().is_file():
        return packaged_guidelines()
    if not path.is_file():
        raise ConfigError(f"guidelines file {path} not found: write it or set guidelines=PATH "
                          f"(leave it unset for srcrel's own, {DEFAULT})")
    return path


def read_guidelines(path: Path) -> tuple[str, str]:
    """(version, instructions HTML): version = sha256[:12] of the file; the HTML is sanitised.
    The default path, run outside a checkout (after `pip install`), reads the packaged copy."""
    path = _resolve(path)
    raw = path.read_bytes()
    version = hashlib.sha256(raw).hexdigest()[:12]
    return version, _render_markdown(raw.decode("utf-8")) + f"<p><small>guidelines version {version}</small></p>"


# Label Studio's stylesheet hides list markers and table borders, and its own sanitiser (bleach,
# on save) drops every style attribute: the looks come back in one <style> block for the
# guidelines' own class, and tables carry border/cellpadding, attributes it keeps. What is sent is
# what Label Studio stores, so a push with unchanged guidelines changes nothing.
_CSS = (".srcrel-guidelines ol { list-style-type: decimal; padding-left: 2em; margin: 0.4em 0 }"
        " .srcrel-guidelines ul { list-style-type: disc; padding-left: 2em; margin: 0.4em 0 }"
        " .srcrel-guidelines li { display: list-item; margin: 0.15em 0 }"
        " .srcrel-guidelines table { border-collapse: collapse; margin: 0.5em 0 }"
        " .srcrel-guidelines th, .srcrel-guidelines td { border: 1px solid #999; padding: 2px 6px; text-align: left }")
_TAGS = {"p", "h3", "h4", "h5", "h6", "ol", "ul", "li", "table", "thead", "tbody", "tr", "th", "td",
         "strong", "em", "code", "br", "hr", "blockquote", "small", "a"}


def _render_markdown(text: str) -> str:
    """CommonMark with tables (markdown-it-py), raw HTML in the file shown as text, headings two
    levels down (the project page has its own), sanitised by nh3 (ammonia): only the tags above,
    http(s) links and the tables' border; then srcrel's own stylesheet around it."""
    import nh3
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 2, 6)}"
        if token.type == "table_open":
            token.attrSet("border", "1")
            token.attrSet("cellpadding", "4")
    rendered = md.renderer.render(tokens, md.options, {})
    clean = nh3.clean(rendered, tags=_TAGS, attributes={"a": {"href"}, "table": {"border", "cellpadding"}},
                      url_schemes={"http", "https"}).strip()
    return f'<style>{_CSS}</style><div class="srcrel-guidelines">{clean}</div>'


_QUOTE = re.compile(r'"([^"\n]{8,})"|“([^”\n]{8,})”|«\s*([^»\n]{8,}?)\s*»')


def _words(text: str) -> str:
    """Lower-case words joined by single spaces, padded so that `in` matches whole words only."""
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def guideline_quotes(path: Path) -> list[tuple[int, str]]:
    """(line, quoted text) of every example the guidelines quote ("…", “…”, « … », or a cell of
    a Markdown table of examples)."""
    quotes = []
    for number, line in enumerate(_resolve(path).read_text(encoding="utf-8").splitlines(), start=1):
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
