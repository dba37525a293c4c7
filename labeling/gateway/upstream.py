"""The gateway's side of Label Studio: the instances it forwards to (in turn, passing over one that
refuses connections), the administrator's look-ups it makes for its own checks, and the headers it
passes on and back, each from an allow-list."""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import itertools
import time
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from labeling.gateway import blind
from labeling.gateway.rules import Rule

__all__ = ["TooBig", "Upstream", "UpstreamError", "forward_headers", "raw_cookies", "read_whole", "relay",
           "repeated_cookie"]

# request headers passed on (cookies and Authorization are the credentials; Host, Origin, Referer
# and X-CSRFToken are what Django's CSRF check reads); everything else, X-Api-Key (which would
# make Label Studio act as another account) and client-set X-Forwarded-* among it, is dropped
_REQUEST_HEADERS = frozenset({"host", "accept", "accept-language", "user-agent", "referer", "origin", "x-csrftoken",
                              "x-requested-with", "authorization", "if-none-match", "if-modified-since",
                              "cache-control", "pragma"})
_COOKIES = {"sessionid", "csrftoken"}
# response headers passed back; on a rewritten body, the validators and encodings of the original go
_RESPONSE_HEADERS = frozenset({"content-type", "set-cookie", "cache-control", "location", "vary", "expires",
                               "x-frame-options", "content-security-policy", "content-security-policy-report-only",
                               "referrer-policy", "x-content-type-options", "cross-origin-opener-policy",
                               "content-language", "etag", "last-modified", "content-encoding", "content-disposition"})
_REWRITTEN_DROP = frozenset({"etag", "last-modified", "content-encoding", "content-disposition"})
SHOWN_TTL = 30.0  # seconds a project's labeling config is trusted before it is read again


class UpstreamError(Exception):
    """Label Studio answered a gateway's own check with a server error."""


class _NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that stores nothing (upstream Set-Cookie headers go to the browser only)."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


class Upstream:
    def __init__(self, urls: list[str], admin_token: str, *, serial_hand_out: bool) -> None:
        # SQLite: Label Studio checks a task's locks and takes one without a transaction, so two
        # label-stream calls at once can hand out the same task beyond its overlap
        self.hand_out: Any = asyncio.Lock() if serial_hand_out else contextlib.nullcontext()
        self.admin = {"Authorization": f"Token {admin_token}"}
        # a client shared by every requester must never keep a cookie: each request carries its own;
        # several Label Studio instances on one database take the requests in turn
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        self.clients = [httpx.AsyncClient(base_url=url.rstrip("/"), timeout=httpx.Timeout(120.0, connect=5.0),
                                          follow_redirects=False, cookies=_NoCookies(), limits=limits)
                        for url in urls]
        self._turn = itertools.cycle(self.clients)
        self.task_projects: dict[int, int] = {}
        self._shown: dict[int, tuple[float, frozenset[str]]] = {}

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()

    async def send(self, method: str, path: str, *, hands_out: bool = False, **kw: Any) -> httpx.Response:
        """One request to the next Label Studio instance in turn; an instance that refuses the
        connection (stopped, restarting) is passed over: the request never reached it, so even a
        submit is safe to send to the next one."""
        for attempt in range(len(self.clients)):
            client = next(self._turn)
            try:
                async with self.hand_out if hands_out else contextlib.nullcontext():
                    return await client.send(client.build_request(method, path, **kw), stream=True)
            except httpx.ConnectError:
                if attempt == len(self.clients) - 1:
                    raise
        raise AssertionError("unreachable")

    async def get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        answer = await self.send("GET", path, headers=headers)
        await answer.aread()
        return answer

    async def admin_json(self, path: str) -> Any:
        answer = await self.get(path, self.admin)
        if answer.status_code >= 500:  # not a refusal: the caller gets a 502, never a silent 403
            raise UpstreamError(f"{path} answered {answer.status_code}")
        return answer.json() if answer.status_code == 200 else None

    async def project_of_task(self, task_id: int) -> int | None:
        if task_id not in self.task_projects:
            task = await self.admin_json(f"/api/tasks/{task_id}/?fields=task_only")
            if not isinstance(task, dict) or not isinstance(task.get("project"), int):
                return None
            self.task_projects[task_id] = task["project"]
        return self.task_projects[task_id]

    async def shown_keys(self, project: int) -> frozenset[str]:
        cached = self._shown.get(project)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        record = await self.admin_json(f"/api/projects/{project}/")
        keys = blind.config_variables(str(record.get("label_config", ""))) if isinstance(record, dict) else frozenset()
        if isinstance(record, dict) and record.get("show_collab_predictions") is True:
            keys |= {blind.PREDICTIONS_ON}
        self._shown[project] = (time.monotonic() + SHOWN_TTL, keys)
        return keys


def repeated_cookie(request: Request) -> bool:
    """A credential cookie named twice: Django reads the last, a cache keyed on the raw text would
    see a new session each time (an identity look-up per request, past every rate)."""
    names = [part.split("=", 1)[0].strip() for part in request.headers.get("cookie", "").split(";")]
    return any(names.count(name) > 1 for name in _COOKIES)


def raw_cookies(request: Request, names: set[str]) -> str:
    """The named cookies exactly as the browser sent them (a parsed value would lose Django's
    quoting and with it the session's signature)."""
    parts = [part.strip() for part in request.headers.get("cookie", "").split(";")]
    return "; ".join(part for part in parts if part.split("=", 1)[0].strip() in names)


def forward_headers(request: Request, rule: Rule, media: str) -> list[tuple[str, str]]:
    """The request's headers from the allow-list, the credentials only where the call needs them
    (static files go without), and the body's media type as the gateway re-serialised it."""
    headers = [(k, v) for k, v in request.headers.items() if k.lower() in _REQUEST_HEADERS
               and (rule.credentials or k.lower() != "authorization")]
    cookies = raw_cookies(request, _COOKIES)
    if cookies and rule.credentials:
        headers.append(("cookie", cookies))
    if not rule.credentials and "gzip" in request.headers.get("accept-encoding", ""):
        headers.append(("accept-encoding", "gzip"))  # static files only: a rewritten body is decoded
    if media:
        headers.append(("content-type", media))
    client = request.client.host if request.client else ""
    return [*headers, ("x-forwarded-for", client), ("x-forwarded-proto", request.url.scheme)]


RELAY_LIMIT = 32 * 1024 * 1024  # the largest body relayed (Label Studio's biggest static file is a few MB)


class TooBig(Exception):
    """Label Studio's answer is larger than the gateway relays."""


async def read_whole(upstream: httpx.Response) -> bytes:
    """The answer's body as it came (still encoded), read at once so that Label Studio's connection
    goes back to the pool before the client reads a byte: a client that never reads holds only
    its own copy, for at most serve.REQUEST_DEADLINE, never a connection every annotator needs."""
    parts, size = [], 0
    try:
        async for chunk in upstream.aiter_raw():
            size += len(chunk)
            if size > RELAY_LIMIT:
                raise TooBig(f"more than {RELAY_LIMIT} bytes")
            parts.append(chunk)
    finally:
        await upstream.aclose()
    return b"".join(parts)


def relay(upstream: httpx.Response, *, rewritten: bool, public: bool, body: bytes | None = None,
          media: str = "application/json") -> Response:
    """The response to the annotator: Label Studio's status and allowed headers with `body`, as it
    came (read_whole) or rewritten (then with `media` as its type). A static file, fetched without
    credentials, may not set (and so replace) the session cookie."""
    skip = (_REWRITTEN_DROP | {"content-type"} if rewritten else frozenset()) | ({"set-cookie"} if public else frozenset())
    response = Response(body or b"", status_code=upstream.status_code)
    own = [(k, v) for k, v in response.raw_headers if k.decode().lower() == "content-length"]
    response.raw_headers = own + [(k.encode("latin-1"), v.encode("latin-1"))
                                  for k, v in upstream.headers.multi_items()
                                  if k.lower() in _RESPONSE_HEADERS and k.lower() not in skip]
    if rewritten:
        response.raw_headers.append((b"content-type", media.encode("latin-1")))
    return response
