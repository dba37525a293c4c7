"""Find input files and turn them into raw articles, reporting every file or row that cannot be used.

Formats: `.txt`/`.md` (one article per file, optional first-line title), `.jsonl` and `.csv`
(one article per row: `text` plus optional `id`, `title`, `url`, `outlet`, `published`, `lang`),
`.html`/`.htm` (main text extracted with trafilatura). Nothing here raises on a bad file: each
problem becomes a `Problem` that names the file (and line) and says what to do.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import charset_normalizer
import orjson
import trafilatura

from labeling.ingest.segment import normalize_text
from srcrel_core.errors import InputError

__all__ = ["FORMATS", "METADATA_FIELDS", "Problem", "RawArticle", "SourceFile", "discover_files", "read_file"]

FORMATS = {".txt": "text", ".md": "text", ".jsonl": "jsonl", ".csv": "csv", ".html": "html", ".htm": "html"}
METADATA_FIELDS = ("title", "url", "outlet", "published")
_HTML_MARKERS = re.compile(r"<(?:!doctype html|html|head|body|div|p|article|span|br|script|meta)\b", re.IGNORECASE)
_TITLE_END = re.compile(r"[.!?…:;,]$")
# UTF-32's marks first: UTF-32-LE's begins with UTF-16-LE's
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
csv.field_size_limit(2**31 - 1)


@dataclass(frozen=True)
class Problem:
    """Something wrong with the input. `action` says what srcrel did about it."""

    source: str
    line: int | None
    kind: str
    message: str
    action: Literal["skipped", "warned"]

    def describe(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class RawArticle:
    source: str
    line: int | None
    text: str  # normalised
    given_id: str | None = None
    lang: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class SourceFile:
    """What was read from one file: its hash, its articles and its problems."""

    path: str
    format: str
    sha256: str = ""
    size: int = 0
    articles: list[RawArticle] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0
    fragments: int = 0
    encoding: str = ""  # what the text was read with: utf-8, latin-1, cp1252, utf-16...

    def skip(self, kind: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(self.path, line, kind, message, "skipped"))

    def warn(self, kind: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(self.path, line, kind, message, "warned"))


def discover_files(root: Path) -> tuple[Path, list[Path]]:
    """The base folder relative paths are computed from, and every file under `root`, sorted."""
    if not root.exists():
        raise InputError(f"input={root}: no such file or folder; pass input=PATH to a file or folder of articles")
    if root.is_file():
        return root.parent, [root]
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    return root, files


def read_file(path: Path, base: Path, *, max_article_chars: int, encoding: str = "auto") -> SourceFile:
    rel = path.relative_to(base).as_posix()
    source = SourceFile(rel, FORMATS.get(path.suffix.lower(), "unsupported"))
    if source.format == "unsupported":
        source.skip("unsupported_format", f"unsupported extension {path.suffix or '(none)'}: "
                    f"use one of {', '.join(sorted(FORMATS))} or move the file out of the input folder")
        return source
    try:
        data = path.read_bytes()
    except OSError as exc:
        source.skip("unreadable", f"cannot read ({exc.strerror or exc}): fix the permissions or remove the file")
        return source
    source.sha256, source.size = hashlib.sha256(data).hexdigest(), len(data)
    text = _decode(data, source, encoding)
    if text is None:
        return source
    if source.format == "text":
        _read_text(text, source, markdown=path.suffix.lower() == ".md")
    elif source.format == "html":
        _read_html(text, source)
    elif source.format == "jsonl":
        _read_jsonl(text, source)
    else:
        _read_csv(text, source)
    _enforce_limits(source, max_article_chars)
    return source


def _decode(data: bytes, source: SourceFile, encoding: str) -> str | None:
    """The file's text, and in `source.encoding` the encoding it was read with.

    `encoding=auto`: a byte-order mark decides (UTF-8, UTF-16, UTF-32); then UTF-8; then Western
    European first (Latin-1, or cp1252 when the file has its curly quotes, dashes or euro sign),
    since a short French or English text decodes "validly" in a dozen single-byte code pages and a
    detector's first guess (cp1250, cp1257...) turns "crème" into "crčme". Only when the Western
    reading looks wrong (characters a Western text does not use, or too many accented letters) is
    the detector's guess taken, and a warning names `encoding=` either way. Any other value is the
    codec to use, strictly."""
    if not data.strip():
        source.skip("empty", "empty file: add article text or remove the file")
        return None
    if encoding != "auto":
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            source.skip("undecodable", f"not valid {encoding} (bad byte at offset {exc.start}): "
                        "pass the file's real encoding as encoding=NAME, or encoding=auto")
            return None
        source.encoding = codecs.lookup(encoding).name
        return text.removeprefix("\ufeff")
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(name)
            except UnicodeDecodeError as exc:
                source.skip("undecodable", f"starts with a {name} byte-order mark but is not valid {name} "
                            f"(offset {exc.start}): re-save the file, or pass encoding=NAME")
                return None
            source.encoding = name.removesuffix("-sig")
            return text.removeprefix("\ufeff")
    if b"\x00" in data[:65536]:
        source.skip("binary", "binary file (NUL bytes), not text: remove it from the input")
        return None
    try:
        text, source.encoding = data.decode("utf-8"), "utf-8"
        return text
    except UnicodeDecodeError as exc:
        bad = exc.start
    western = _western(data)
    share = _accented_share(western) if western is not None else 1.0
    if western is not None and share <= _SURE:
        source.encoding = _western_name(data)
        return western
    best = charset_normalizer.from_bytes(data).best()
    other = codecs.lookup(best.encoding).name if best is not None and not _looks_binary(str(best)) else None
    if western is not None and (share <= _PLAUSIBLE or other is None):
        source.encoding = _western_name(data)
        hint = f" (a detector says {other})" if other and other not in ("cp1252", "latin-1") else ""
        source.warn("encoding_unsure", f"not UTF-8 (bad byte at offset {bad}): read as {source.encoding}, unsure: "
                    f"{share:.0%} of its letters are accented{hint}; if they look wrong pass encoding=NAME")
        return western
    if other is None or best is None:
        source.skip("undecodable", f"not UTF-8 (bad byte at offset {bad}) and no other encoding fits: "
                    "re-save the file as UTF-8, or pass encoding=NAME")
        return None
    source.encoding = other
    source.warn("encoding_unsure", f"not UTF-8 (bad byte at offset {bad}) and not Western European: read as "
                f"{other}, unsure; pass encoding=NAME if the text looks wrong")
    return str(best)


def _western_name(data: bytes) -> str:
    """cp1252 when the file uses one of its own characters (curly quotes, dashes, €), else Latin-1."""
    return "cp1252" if re.search(rb"[\x80-\x9f]", data) else "latin-1"


def _western(data: bytes) -> str | None:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:  # one of cp1252's five unused bytes: Latin-1 then, if nothing else fits
        return None


# what a Western European text uses beyond ASCII: Latin-1's letters and common signs, cp1252's
# typography; a Central European, Cyrillic or Greek file read as cp1252 shows others (¹ ¾ ¼ ð þ ...)
_WESTERN = set("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿŒœŠšŸŽž"
               "«»‘’‚“”„–—…•€£¥¢°§©®™·¿¡ºª±×÷\u00a0\u202f†‡‰‹›¨´")


# accented letters as a share of all letters, in the Western reading: French news runs at 3-5%,
# German and Portuguese below 10%; a short line ("Café crème.") or a Central European file read
# as cp1252 goes above, so it is read the Western way but said to be unsure
_SURE, _PLAUSIBLE = 0.15, 0.35


def _accented_share(text: str) -> float:
    """1.0 when the text holds a character a Western text does not use, else the share of its
    letters that are not ASCII."""
    other = [ch for ch in text if ord(ch) > 127]
    if any(ch not in _WESTERN for ch in other):
        return 1.0
    letters = sum(ch.isalpha() for ch in text)
    return sum(ch.isalpha() for ch in other) / max(letters, 1)


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f\v")
    return controls > len(sample) * 0.01


def _read_text(text: str, source: SourceFile, *, markdown: bool) -> None:
    if _HTML_MARKERS.search(text[:5000]) and len(_HTML_MARKERS.findall(text[:20000])) >= 3:
        source.warn("html_in_text", "looks like HTML, not plain text: extracted the main text with trafilatura; "
                    "rename the file to .html to silence this")
        _read_html(text, source)
        return
    text = normalize_text(text)
    title, body = _split_title(text, markdown=markdown)
    source.rows = 1
    source.articles.append(RawArticle(source.path, None, body, metadata={"title": title} if title else {}))


def _split_title(text: str, *, markdown: bool) -> tuple[str, str]:
    """A first line followed by a blank line, short and not ending like a sentence, is a title."""
    first, sep, rest = text.partition("\n")
    if markdown and first.startswith("#"):
        return first.lstrip("#").strip(), rest.strip()
    if sep and rest.startswith("\n") and len(first) <= 200 and not _TITLE_END.search(first.strip()) and rest.strip():
        return first.strip(), rest.strip()
    return "", text


def _read_html(text: str, source: SourceFile) -> None:
    doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False, include_tables=False)
    data: dict[str, Any] = doc if isinstance(doc, dict) else (doc.as_dict() if doc is not None else {})
    body = normalize_text(data.get("text") or "")
    source.rows = 1
    if not body:
        source.skip("no_text", "no main text found in the HTML: check that it is an article page")
        return
    title = (data.get("title") or "").strip()
    if title and body.startswith(title):
        body = body[len(title):].strip()
    metadata = {key: str(data.get(name) or "").strip() for key, name in
                (("title", "title"), ("url", "url"), ("outlet", "sitename"), ("published", "date"))}
    source.articles.append(RawArticle(source.path, None, body, metadata={k: v for k, v in metadata.items() if v}))


def _row_article(row: dict[str, object], source: SourceFile, line: int) -> None:
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        what = "missing" if text is None else "empty or not a string"
        source.skip("missing_text", f"`text` field {what}: every row needs the article text in `text`", line)
        return
    given = row.get("id")
    given_id = str(given).strip() if given not in (None, "") else None
    lang = row.get("lang")
    metadata = {k: str(row[k]).strip() for k in METADATA_FIELDS if row.get(k) not in (None, "")}
    source.articles.append(RawArticle(source.path, line, normalize_text(text), given_id,
                                      str(lang).strip().lower() if lang else None, metadata))


def _read_jsonl(text: str, source: SourceFile) -> None:
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        source.rows += 1
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            source.skip("malformed_row", f"invalid JSON ({exc.msg}): fix or delete this line", line_no)
            continue
        if not isinstance(row, dict):
            source.skip("malformed_row", "a JSONL line must be an object with a `text` field", line_no)
            continue
        _row_article(row, source, line_no)


def _read_csv(text: str, source: SourceFile) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        source.skip("malformed_row", f"no readable CSV header ({exc}): the first row must name the columns", 1)
        return
    if "text" not in header:
        source.skip("missing_text", f"no `text` column (columns: {', '.join(header)}): add one with the article text", 1)
        return
    while True:
        line_no = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            source.rows += 1
            source.skip("malformed_row", f"malformed CSV row ({exc}): fix its quoting", line_no)
            continue
        if not any(c.strip() for c in cells):
            continue
        source.rows += 1
        if len(cells) != len(header):
            source.skip("malformed_row", f"{len(cells)} fields where the header has {len(header)}: "
                        "fix the quoting or the delimiters", line_no)
            continue
        _row_article(dict(zip(header, cells)), source, line_no)


def _enforce_limits(source: SourceFile, max_article_chars: int) -> None:
    kept = []
    for article in source.articles:
        if len(article.text) > max_article_chars:
            lines = article.text.count("\n") + 1
            source.skip("too_long", f"article of {len(article.text):,} characters on {lines:,} line(s) exceeds "
                        f"max_article_chars={max_article_chars:,}: split it into articles or raise the setting",
                        article.line)
        else:
            kept.append(article)
    source.articles = kept
