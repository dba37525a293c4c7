"""The attribution JSONL form, in and out: one line per (article, annotator), as PolNeAR's
`attributions_train_dev.jsonl` (and PARC-style data converted to it):

    {"article": "id", "annotator": "a1", "text": "...", "compartment": "train",
     "attributions": [{"source": [[12, 30]], "cue": [[31, 35]], "content": [[36, 80]]}, ...]}

Offsets are characters into `text`, end exclusive; a role may have several fragments or none
(`"source": []`: an attribution that names no source). Keys other than these are kept as they are
(`publisher`, `url`, ...). srcrel writes its own spans out in the same form (`source` only, with
`cue` and `content` empty) so other tools can read them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from srcrel_core.errors import InputError
from srcrel_core.io import jsonl_rows
from srcrel_core.spans import Span, to_span

__all__ = ["ROLES", "Attribution", "AttributionDoc", "read_attributions", "write_attributions"]

ROLES = ("source", "cue", "content")


@dataclass(frozen=True)
class Attribution:
    source: Span = ()
    cue: Span = ()
    content: Span = ()


@dataclass(frozen=True)
class AttributionDoc:
    article: str
    text: str
    attributions: tuple[Attribution, ...]
    annotator: str = ""
    compartment: str = ""  # train / dev / test when the file says so (PolNeAR's own split)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sources(self) -> list[Span]:
        return [a.source for a in self.attributions if a.source]


def _fail(path: Path, line: int, what: str) -> InputError:
    return InputError(f"{path}:{line}: {what}; each line must be {{\"article\", \"text\", \"attributions\": "
                      "[{\"source\": [[start, end]], ...}]}} (see the README, attribution files)")


def _role(path: Path, line: int, text: str, value: Any, where: str) -> Span:
    if not isinstance(value, list) or not all(isinstance(f, list) and len(f) == 2
                                              and all(isinstance(x, int) for x in f) for f in value):
        raise _fail(path, line, f"{where} is not a list of [start, end] integer pairs")
    span = to_span(value)
    for start, end in span:
        if not 0 <= start < end <= len(text):
            raise _fail(path, line, f"{where} fragment [{start}, {end}] is outside the text "
                                    f"(0..{len(text)}) or empty")
    return span


def read_attributions(path: str | Path) -> list[AttributionDoc]:
    """Every line of an attribution JSONL, checked; the first bad line fails in one line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"attribution file {path} not found; pass a JSONL with one article per line")
    docs = []
    for number, record in jsonl_rows(path, shape="one article object", fix="one article per line (article, "
                                     "text, attributions)"):
        if not isinstance(record, dict):
            raise _fail(path, number, "not a JSON object")
        text, article, found = record.get("text"), record.get("article"), record.get("attributions")
        if not isinstance(text, str) or not text or article in (None, "") or not isinstance(found, list):
            raise _fail(path, number, "needs a non-empty `text`, an `article` id and an `attributions` list")
        attributions = []
        for i, item in enumerate(found):
            if not isinstance(item, dict):
                raise _fail(path, number, f"attribution {i} is not an object")
            attributions.append(Attribution(**{role: _role(path, number, text, item.get(role, []),
                                                           f"attribution {i} {role}") for role in ROLES}))
        extra = {k: v for k, v in record.items()
                 if k not in ("article", "text", "attributions", "annotator", "compartment")}
        docs.append(AttributionDoc(str(article), text, tuple(attributions), str(record.get("annotator") or ""),
                                   str(record.get("compartment") or ""), extra))
    if not docs:
        raise InputError(f"attribution file {path} has no line; pass a JSONL with one article per line")
    return docs


def write_attributions(path: str | Path, docs: Iterable[AttributionDoc]) -> int:
    """Write `docs` as attribution JSONL (atomically: a temporary file renamed at the end)."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    n = 0
    with partial.open("wb") as handle:
        for doc in docs:
            record = {"article": doc.article, "annotator": doc.annotator, "compartment": doc.compartment,
                      **doc.extra, "text": doc.text,
                      "attributions": [{role: [list(f) for f in getattr(a, role)] for role in ROLES}
                                       for a in doc.attributions]}
            handle.write(orjson.dumps({k: v for k, v in record.items() if v != ""}) + b"\n")
            n += 1
    partial.replace(path)
    return n
