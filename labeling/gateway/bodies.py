"""Request bodies at the gateway: read as a stream with a size limit and a deadline, accepted only
in the one media type their call uses, parsed, rebuilt from the keys the call may set with each
value's type checked, and re-serialised. What reaches Label Studio is never the caller's bytes
(except static-file requests, which carry none): Django REST framework picks its parser from the
Content-Type, so a body that is valid JSON *and* a valid form would otherwise set any field.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request

from labeling.gateway.rules import Body

__all__ = ["LIMITS", "BodyError", "clean_body", "read_body"]

KB = 1024
# bytes a call may carry: an answer is one sentence's result (a few hundred bytes; spans add a
# little), a draft the same; nothing the screen sends comes near these
LIMITS: dict[Body, int] = {Body.none: 0, Body.ignored: 4 * KB, Body.form: 64 * KB, Body.answer: 1024 * KB,
                           Body.update: 1024 * KB, Body.draft: 64 * KB, Body.draft_update: 64 * KB,
                           Body.empty: 64 * KB, Body.tab: 64 * KB}
DEADLINE = 10.0  # seconds for a whole body to arrive, from the moment its headers did
_JSON = re.compile(r"^\s*application/json\s*(;\s*charset\s*=\s*\"?utf-8\"?\s*)?$", re.IGNORECASE)
_FORM = re.compile(r"^\s*application/x-www-form-urlencoded\s*(;\s*charset\s*=\s*\"?utf-8\"?\s*)?$", re.IGNORECASE)


class BodyError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


async def read_body(request: Request, kind: Body, *, deadline: float = DEADLINE) -> bytes:
    """The whole body, or BodyError: 413 past the call's limit (told by Content-Length or found
    while reading, without reading further), 408 when it has not all arrived in `deadline` s,
    400 for a body the call does not take or a malformed length."""
    limit = LIMITS[kind]
    lengths = request.headers.getlist("content-length")
    if len(lengths) > 1 or (lengths and not lengths[0].strip().isdigit()):
        raise BodyError(400, "one Content-Length, a number")
    if lengths and int(lengths[0]) > limit:
        raise BodyError(413, f"a body of at most {limit} bytes")
    data = bytearray()
    try:
        async with asyncio.timeout(deadline):
            async for chunk in request.stream():
                data += chunk
                if len(data) > limit:
                    raise BodyError(413, f"a body of at most {limit} bytes")
    except TimeoutError:
        raise BodyError(408, f"the body did not arrive within {deadline:.0f} s") from None
    return bytes(data)


def _media_ok(request: Request, pattern: re.Pattern[str]) -> bool:
    types = request.headers.getlist("content-type")
    return len(types) == 1 and bool(pattern.match(types[0]))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and abs(v) < 1e9


def _short_str(v: Any) -> bool:
    return isinstance(v, str) and len(v) <= 64


def _result(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(r, dict) for r in v)


def _null(v: Any) -> bool:
    return v is None


# key -> the values it accepts; a key not listed for a kind is dropped, a listed key with a value
# of another type refuses the call (400)
_TYPES: dict[str, Callable[[Any], bool]] = {
    "result": _result, "lead_time": _is_number, "started_at": _short_str,
    "draft_id": lambda v: _is_int(v) and v >= 0, "unique_id": _short_str,
    "parent_prediction": lambda v: v is None or _is_int(v), "was_cancelled": lambda v: isinstance(v, bool),
    "was_postponed": lambda v: isinstance(v, bool), "annotation": _null,
}
KEYS: dict[Body, frozenset[str]] = {
    # no task, project, completed_by, ground_truth, updated_by, parent_annotation, import_id...
    Body.answer: frozenset({"result", "lead_time", "started_at", "draft_id", "unique_id", "parent_prediction",
                            "was_cancelled"}),
    # an update never turns a skip into an answer or back (was_cancelled), nor moves or re-authors it
    Body.update: frozenset({"result", "lead_time", "started_at", "draft_id"}),
    Body.draft: frozenset({"result", "lead_time", "started_at", "was_postponed"}),
    # "Cancel skip" detaches a draft from the skip it belonged to: {"annotation": null}
    Body.draft_update: frozenset({"result", "lead_time", "started_at", "was_postponed", "annotation"}),
}
_FORM_KEYS = ("email", "password", "csrfmiddlewaretoken", "persist_session")
_TAB_DATA = 16  # keys of a tab's settings kept (title, hidden columns, widths, ...)


def clean_body(request: Request, kind: Body, raw: bytes) -> tuple[bytes, str] | None:
    """(bytes to forward, their Content-Type), or None for a body refused with 400; raises
    BodyError(415) for a media type the call does not take."""
    if kind in (Body.none, Body.ignored):
        if kind is Body.none and raw:
            return None
        return b"", ""
    if kind is Body.form:
        if not _media_ok(request, _FORM):
            raise BodyError(415, "the login form as application/x-www-form-urlencoded")
        try:
            fields = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError):
            return None
        kept = [(k, v) for k, v in fields if k in _FORM_KEYS]
        if len(kept) != len({k for k, _ in kept}):
            return None  # a field twice: which one Django reads is not ours to guess
        return urlencode(kept).encode(), "application/x-www-form-urlencoded"
    if raw and not _media_ok(request, _JSON):
        raise BodyError(415, "a JSON body as application/json")
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past Python's stack: refused, never a 500
        return None
    if _depth(data) > MAX_DEPTH:
        return None
    if not isinstance(data, dict):
        return None
    if kind is Body.empty:
        return b"{}", "application/json"
    if kind is Body.tab:
        return _tab(data)
    chosen = {k: v for k, v in data.items() if k in KEYS[kind]}
    if any(not _TYPES[k](v) for k, v in chosen.items()):
        return None
    return json.dumps(chosen).encode(), "application/json"


MAX_DEPTH = 20  # an answer's result is 4 levels deep; nothing the screen sends goes past 10


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return max((_depth(v, level + 1) for v in children), default=level)


def _tab(data: Mapping[str, Any]) -> tuple[bytes, str] | None:
    """A private tab's settings as the screen sent them (title, hidden columns...), never filters,
    ordering or selected items (the gateway answers with them; nothing is stored)."""
    settings = data.get("data", {})
    if not isinstance(settings, dict):
        return None
    kept = {k: v for k, v in list(settings.items())[:_TAB_DATA]
            if k not in ("filters", "ordering", "selectedItems", "query", "semantic_search")}
    return json.dumps({"data": kept}).encode(), "application/json"
