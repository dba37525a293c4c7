"""Normalise article text and split it into sentences with exact character offsets.

Sentence boundaries come from `sentencex` (Wikimedia's rule-based segmenter: per-language
abbreviation lists, quote-aware, fast). srcrel adds three things on top:
- paragraph breaks are hard boundaries (a sentence never crosses them);
- language-specific abbreviations sentencex misses (French `M.`, `Mme.`, `J.-C.`) and a
  continuation rule (a "sentence" starting in lowercase continues the previous one) merge
  false breaks;
- every sentence is a span `(char_start, char_end)` into the normalised text, so
  `text[char_start:char_end]` is exactly the sentence, stripped of surrounding whitespace.
"""

from __future__ import annotations

import re
import unicodedata

import sentencex

__all__ = ["ABBREVIATIONS", "normalize_text", "segment_text", "split_paragraphs"]

# Line breaks other than "\n" that Unicode and old editors use; all become "\n".
_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029\x85\x0b\x0c]")
_BLANK_LINE = re.compile(r"\n[ \t\u00a0]*\n")
# A line that ends a paragraph: terminal punctuation, optionally followed by closing quotes/brackets.
_ENDS_CLAUSE = re.compile(r"[.!?…:;]['\"’”»)\]\u00a0 ]*$")

# Abbreviations (lowercased, without the final period) after which sentencex breaks but should not.
ABBREVIATIONS: dict[str, frozenset[str]] = {
    "fr": frozenset(
        ["m", "mm", "mme", "mmes", "mlle", "mlles", "dr", "pr", "me", "mgr", "st", "ste", "av", "apr", "j.-c", "cf", "etc", "p", "pp", "vol", "chap", "art", "al", "env", "hab", "min", "max", "no", "n°", "tél", "fig", "éd", "coll", "dir", "trad"]
    ),
    "en": frozenset(
        ["mr", "mrs", "ms", "dr", "prof", "gen", "sen", "rep", "gov", "lt", "col", "capt", "sgt", "st", "jr", "sr", "inc", "corp", "co", "ltd", "no", "vs", "etc", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "fig", "approx", "dept", "est"]
    ),
}
_LAST_TOKEN = re.compile(r"(\S+)\.$")
# sentencex ends a sentence at "..." but not at the single character "…" before a capital
_ELLIPSIS_BREAK = re.compile(r"…(?=\s+[«“\"]?[A-ZÀ-ÖØ-Þ])")
_OPENING, _CLOSING = "«“", "»”"


def normalize_text(text: str) -> str:
    """NFC, one kind of line ending, no BOM; outer whitespace trimmed. Nothing else changes."""
    text = unicodedata.normalize("NFC", text.lstrip("\ufeff"))
    return _LINE_BREAKS.sub("\n", text).strip()


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of paragraphs. A blank line always ends one; a single newline ends one unless it
    looks like a hard wrap (the line does not end a clause and the next starts in lowercase)."""
    spans: list[tuple[int, int]] = []
    for block in _iter_blocks(text):
        start, end = block
        line_start = start
        while True:
            nl = text.find("\n", line_start, end)
            if nl == -1:
                break
            line = text[line_start:nl].rstrip()
            nxt = text[nl + 1 : end].lstrip(" \t")
            soft_wrap = bool(line) and not _ENDS_CLAUSE.search(line) and nxt[:1].islower()
            if not soft_wrap:
                spans.append((start, nl))
                start = nl + 1
            line_start = nl + 1
        spans.append((start, end))
    return [(s, e) for s, e in (_trim(text, s, e) for s, e in spans) if e > s]


def segment_text(text: str, lang: str) -> list[tuple[int, int]]:
    """Sentence spans of a normalised text.

    >>> t = "M. Dupont a parlé. « Qui croire ? » Rien n'est moins sûr."
    >>> [t[a:b] for a, b in segment_text(t, "fr")]
    ['M. Dupont a parlé.', '« Qui croire ? »', "Rien n'est moins sûr."]
    """
    spans: list[tuple[int, int]] = []
    for p_start, p_end in split_paragraphs(text):
        paragraph = text[p_start:p_end]
        pieces = _sentencex(paragraph, lang or "en")
        pieces = _split_ellipses(paragraph, _merge_false_breaks(paragraph, pieces, lang))
        spans.extend((p_start + a, p_start + b) for a, b in pieces)
    return spans


_NO_BREAK_SPACES = {0x00A0: " ", 0x202F: " "}


def _sentencex(paragraph: str, lang: str) -> list[tuple[int, int]]:
    """sentencex's sentences as offsets. sentencex 1.0.32 panics (Rust, a BaseException) on a no-break
    space before some periods in French ("C\u00a0."); then it gets the same text with ordinary
    spaces, which keeps every offset (one character for one)."""
    try:
        return _locate(paragraph, sentencex.segment(lang, paragraph))
    except BaseException as exc:  # pyo3's PanicException derives from BaseException
        if type(exc).__name__ != "PanicException":
            raise
    plain = paragraph.translate(_NO_BREAK_SPACES)
    return _locate(plain, sentencex.segment(lang, plain))


def _iter_blocks(text: str) -> list[tuple[int, int]]:
    blocks, start = [], 0
    for match in _BLANK_LINE.finditer(text):
        blocks.append((start, match.start()))
        start = match.end()
    blocks.append((start, len(text)))
    return blocks


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _locate(paragraph: str, segments: object) -> list[tuple[int, int]]:
    """Map segment strings back to offsets; sentencex returns the original characters in order."""
    pieces: list[tuple[int, int]] = []
    cursor = 0
    for segment in segments:  # type: ignore[attr-defined]
        stripped = segment.strip()
        if not stripped:
            continue
        found = paragraph.find(stripped, cursor)
        if found == -1:  # the segmenter changed characters: keep the rest as one sentence
            break
        pieces.append((found, found + len(stripped)))
        cursor = found + len(stripped)
    rest = _trim(paragraph, cursor, len(paragraph))
    if rest[1] > rest[0]:
        pieces.append(rest)
    return pieces


def _merge_false_breaks(paragraph: str, pieces: list[tuple[int, int]], lang: str) -> list[tuple[int, int]]:
    abbreviations = ABBREVIATIONS.get(lang, frozenset())
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        if merged and _continues(paragraph[merged[-1][0] : merged[-1][1]], paragraph[start:end], abbreviations):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _continues(previous: str, current: str, abbreviations: frozenset[str]) -> bool:
    first = current[:1]
    if first.islower() or first in "-–,;:)]":
        return True
    match = _LAST_TOKEN.search(previous)
    return match is not None and match.group(1).lower().lstrip("(«\"“") in abbreviations


def _split_ellipses(paragraph: str, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Break after "…" followed by a capital, unless the ellipsis is inside a quotation."""
    out: list[tuple[int, int]] = []
    for start, end in pieces:
        piece = paragraph[start:end]
        cut = 0
        for match in _ELLIPSIS_BREAK.finditer(piece):
            if _quote_depth(piece[: match.start()]) == 0:
                out.append(_trim(paragraph, start + cut, start + match.end()))
                cut = match.end()
        out.append(_trim(paragraph, start + cut, end))
    return out


def _quote_depth(text: str) -> int:
    depth = sum(text.count(c) for c in _OPENING) - sum(text.count(c) for c in _CLOSING)
    return depth + text.count('"') % 2
