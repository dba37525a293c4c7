"""The annotator gateway: the one address annotators are given. It lets an account log in and
out, read the guidelines, take tasks from the label stream and submit, skip or update its own
answers in the projects it was added to, and refuses everything else with 403 (see access.py).

Why Python and not nginx alone: the decisions are per user (who is asking, which projects they
were added to, whose annotation or draft an id is) and one response must be rewritten (the task
the editor reopens with the back arrow carries every annotator's answers); both need the
requester's identity, which the gateway asks Label Studio for (`whoami`, cached a few seconds).
Starlette, uvicorn and httpx are maintained, small, and made for exactly this.

Run by `srcrel studio up` as `python -m labeling.studio.gateway --data-dir D --upstream URL
[--upstream URL2 ...] --host H --port P`; it reads the admin token from D/credentials.json (0600) for its ownership
look-ups and never logs cookies or tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.cookiejar
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from labeling.studio import access
from labeling.studio.access import Body, Check, Rule

__all__ = ["HEALTH_PATH", "build_app", "main"]

HEALTH_PATH = "/gateway-health"
_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "content-length"}
_DROPPED = {"cookie", "x-api-key", "forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
            "x-real-ip"}
_COOKIES = {"sessionid", "csrftoken"}
_MAX_BODY = 5_000_000
_MAX_IDENTITIES = 10_000
_REFUSED = ("<!doctype html><title>Not part of annotating</title><h1>403: not part of annotating</h1>"
            "<p>This address is for labeling sentences. The page or action you asked for is not part of "
            "annotating, so it is not available here.</p><p><a href='/projects/'>Back to your projects</a></p>")
log = logging.getLogger("srcrel.gateway")


class UpstreamError(Exception):
    """Label Studio answered a gateway's own check with a server error."""


class Gateway:
    def __init__(self, upstreams: list[str], data_dir: Path, admin_token: str, *, serial_hand_out: bool) -> None:
        self.data_dir = data_dir
        # SQLite: Label Studio checks a task's locks and takes one without a transaction, so two
        # label-stream calls at once can hand out the same task beyond its overlap
        self.hand_out = asyncio.Lock() if serial_hand_out else contextlib.nullcontext()
        self.answering = [asyncio.Lock() for _ in range(256)]  # striped by (account, task)
        self.admin = {"Authorization": f"Token {admin_token}"}
        # a client shared by every requester must never keep a cookie: each request carries its own;
        # several Label Studio instances on one database take the requests in turn
        self.clients = [httpx.AsyncClient(base_url=url.rstrip("/"), timeout=120.0, follow_redirects=False,
                                          cookies=_NoCookies()) for url in upstreams]
        self._turn = itertools.cycle(self.clients)
        self.identities: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self.task_projects: dict[int, int] = {}
        self.journal = access.journal_path(data_dir)
        self.journal.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._access: tuple[float, dict[str, list[str]]] = (-1.0, {})

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

    async def _get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        answer = await self.send("GET", path, headers=headers)
        await answer.aread()
        return answer

    def members(self, email: str) -> set[int]:
        path = access.access_path(self.data_dir)
        mtime = path.stat().st_mtime if path.is_file() else 0.0
        if mtime != self._access[0]:
            self._access = (mtime, access.read_access(self.data_dir))
        return access.members(self._access[1], email)

    async def identify(self, request: Request) -> dict[str, Any] | None:
        """{id, email} of the account behind the request's session cookie or token, or None (also
        for a request carrying two Authorization headers: which one upstream reads is not ours)."""
        if len(request.headers.getlist("authorization")) > 1:
            return None
        key = (_raw_cookies(request, {"sessionid"}), request.headers.get("authorization", ""))
        if not any(key):
            return None
        cached = self.identities.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        if len(self.identities) > _MAX_IDENTITIES:
            self.identities.clear()
        # exactly the credentials that are forwarded (no X-Api-Key, no other cookie)
        headers = {k: v for k, v in (("cookie", key[0]), ("authorization", key[1])) if v}
        answer = await self._get("/api/current-user/whoami", headers)
        if answer.status_code >= 500:
            raise UpstreamError(f"whoami answered {answer.status_code}")
        who = None
        if answer.status_code == 200:
            body = answer.json()
            who = {"id": int(body["id"]), "email": str(body.get("email", ""))}
        self.identities[key] = (time.monotonic() + 10.0, who)
        return who

    async def _admin_json(self, path: str) -> dict[str, Any] | None:
        answer = await self._get(path, self.admin)
        if answer.status_code >= 500:  # not a refusal: the caller gets a 502, never a silent 403
            raise UpstreamError(f"{path} answered {answer.status_code}")
        return answer.json() if answer.status_code == 200 else None  # type: ignore[no-any-return]

    async def project_of_task(self, task_id: int) -> int | None:
        if task_id not in self.task_projects:
            task = await self._admin_json(f"/api/tasks/{task_id}/?fields=task_only")
            if not task or "project" not in task:
                return None
            self.task_projects[task_id] = int(task["project"])
        return self.task_projects[task_id]

    async def allowed(self, rule: Rule, request: Request, who: dict[str, Any]) -> bool:
        """The per-user half of a rule: membership of the project, ownership of the id."""
        path, query = request.url.path, dict(request.query_params)
        mine = self.members(who["email"])
        if rule.check is Check.user:
            return True
        if rule.check is Check.project:
            return access.project_of(rule, path, query) in mine
        if rule.check is Check.task:
            return await self.project_of_task(access.path_id(rule, path, "task")) in mine
        if rule.check is Check.first_answer:  # a second answer to the same task is an update (PATCH)
            task = access.path_id(rule, path, "task")
            if await self.project_of_task(task) not in mine:
                return False
            answers = await self._admin_json(f"/api/tasks/{task}/annotations/")
            return isinstance(answers, list) and not any(access.is_owner(a, who["id"]) for a in answers)
        kind = "annotations" if rule.check is Check.annotation else "drafts"
        item = await self._admin_json(f"/api/{kind}/{access.path_id(rule, path, rule.check.value)}/")
        if not item:
            return False
        task = item.get("task")
        return (access.is_owner(item, who["id"], who["email"]) and isinstance(task, int)
                and await self.project_of_task(task) in mine)

    async def handle(self, request: Request) -> Response:
        try:
            return await self._handle(request)
        except (httpx.TransportError, UpstreamError) as exc:
            log.warning("Label Studio did not answer %s %s: %s", request.method, request.url.path,
                        type(exc).__name__)
            unsent = isinstance(exc, httpx.ConnectError | UpstreamError)  # refused before it reached Label Studio
            detail = "nothing was saved" if unsent else "what was sent may or may not be saved: reload to check"
            return JSONResponse({"detail": f"Label Studio is not answering ({detail}); try again in a minute"},
                                status_code=502)

    async def _handle(self, request: Request) -> Response:
        path, query = request.url.path, dict(request.query_params)
        if path == HEALTH_PATH:
            return JSONResponse({"status": "UP"})
        raw_path = request.scope.get("raw_path", b"").decode("latin-1")
        if not (access.safe_path(raw_path) and access.safe_path(path)):
            return self.refuse(request, None)
        rule = access.match(request.method, path, query)
        if rule is None:
            return self.refuse(request, None)
        who = None
        if rule.check is not Check.public:
            who = await self.identify(request)
            if who is None:
                if path.startswith("/api/"):
                    return JSONResponse({"detail": "log in first"}, status_code=401)
                return RedirectResponse(f"/user/login/?next={path}", status_code=302)
        # one answer per task and account: the check and the submit of two simultaneous requests
        # (a double click, a client's retry) must not interleave
        guard = self.answering[hash((who["id"], access.path_id(rule, path, "task"))) % len(self.answering)] \
            if who is not None and rule.check is Check.first_answer else contextlib.nullcontext()
        async with guard:
            return await self._forward(request, rule, who)

    async def _forward(self, request: Request, rule: Rule, who: dict[str, Any] | None) -> Response:
        path = request.url.path
        if who is not None and not await self.allowed(rule, request, who):
            return self.refuse(request, who)
        body = await self.body_for(rule, request, who)
        if body is None:
            return self.refuse(request, who)
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in rule.drop_params]
        upstream = await self.send(request.method, path, params=params, content=body,
                                   headers=_forward_headers(request, rule), hands_out=rule.hands_out)
        if rule.rewrite and upstream.status_code == 200 and who is not None:
            return await self.rewritten(rule, upstream, who)
        if rule.body is Body.annotation and upstream.status_code in (200, 201) and who is not None:
            return await self.journaled(rule, upstream, who, request)
        # a static file is fetched without credentials: it must not set (and so replace) the session
        return _streamed(upstream, drop={"set-cookie"} if _public_file(rule) else set())

    async def body_for(self, rule: Rule, request: Request, who: dict[str, Any] | None) -> bytes | None:
        """The body to forward: none, the login form as sent, or a JSON object rebuilt from the
        keys the call may set (see access.clean_body); None refuses the call."""
        body = await request.body()
        if rule.body is Body.none:
            return b""
        if rule.body is Body.form:
            return body if len(body) < 64_000 else None
        if who is None or len(body) > _MAX_BODY:
            return None
        if body and "json" not in request.headers.get("content-type", "json"):
            return None  # form or multipart bodies would pass keys the gateway cannot see
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            return None
        project = access.project_of(rule, request.url.path, dict(request.query_params))
        cleaned = access.clean_body(rule, data, user_id=who["id"], project=project)
        return None if cleaned is None else json.dumps(cleaned).encode()

    def refuse(self, request: Request, who: dict[str, Any] | None) -> Response:
        log.info("refused %s %s (%s)", request.method, request.url.path, who["email"] if who else "no rule")
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "not part of annotating: refused by srcrel's gateway"}, status_code=403)
        return HTMLResponse(_REFUSED, status_code=403)

    async def rewritten(self, rule: Rule, upstream: httpx.Response, who: dict[str, Any]) -> Response:
        await upstream.aread()
        data = upstream.json()
        if rule.rewrite == "task" and isinstance(data, dict):
            if isinstance(data.get("id"), int) and isinstance(data.get("project"), int):  # spares the submit's lookup
                self.task_projects[data["id"]] = data["project"]
            data = access.blind_task(data, who["id"], who["email"])
        elif rule.rewrite == "tasks" and isinstance(data, dict):
            data = {"tasks": [access.blind_task(t, who["id"], who["email"]) for t in data.get("tasks", [])],
                    "total": data.get("total")}
        elif rule.rewrite == "users":
            items = data.get("results", data) if isinstance(data, dict) else data
            items = [u for u in items if isinstance(u, dict) and u.get("id") == who["id"]]
            data = {**data, "results": items, "count": len(items)} if isinstance(data, dict) else items
        elif rule.rewrite == "projects":
            mine = self.members(who["email"])
            items = data.get("results", data) if isinstance(data, dict) else data
            items = [access.blind_project(p) for p in items if isinstance(p, dict) and p.get("id") in mine]
            data = {**data, "results": items, "count": len(items)} if isinstance(data, dict) else items
        elif rule.rewrite == "project" and isinstance(data, dict):
            data = access.blind_project(data)
        elif rule.rewrite == "ml_backends":  # no backend URL, error text or auth user
            items = data.get("results", []) if isinstance(data, dict) else data
            data = [{k: v for k, v in b.items() if k in access.ML_BACKEND_KEYS} for b in items if isinstance(b, dict)]
        elif rule.rewrite == "views" and isinstance(data, list):  # one's own tabs only
            data = [v for v in data if isinstance(v, dict) and v.get("user") == who["id"]]
        elif rule.rewrite == "label_links":  # no count of everyone's answers per label
            items = data.get("results", data) if isinstance(data, dict) else data
            items = [{k: v for k, v in i.items() if k != "annotations_count"} for i in items if isinstance(i, dict)]
            data = {**data, "results": items} if isinstance(data, dict) else items
        return _with_headers(Response(json.dumps(data), status_code=200), upstream, drop={"content-encoding"})

    async def journaled(self, rule: Rule, upstream: httpx.Response, who: dict[str, Any],
                        request: Request) -> Response:
        """Record each annotation made or updated through the gateway (pull puts the record
        beside the export; build says whether the campaign ran blind)."""
        await upstream.aread()
        try:
            made = upstream.json()
        except ValueError:
            made = {}
        if isinstance(made, dict) and isinstance(made.get("id"), int):
            entry = {"annotation": made["id"], "task": made.get("task"), "user": who["id"],
                     "action": "updated" if request.method == "PATCH" else "created", "at": time.time()}
            with self.journal.open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")
        return _with_headers(Response(upstream.content, status_code=upstream.status_code), upstream,
                             drop={"content-encoding"})


class _NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that stores nothing (upstream Set-Cookie headers go to the browser only)."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


def _raw_cookies(request: Request, names: set[str]) -> str:
    """The named cookies exactly as the browser sent them (a parsed value would lose Django's
    quoting and with it the session's signature)."""
    parts = [part.strip() for part in request.headers.get("cookie", "").split(";")]
    return "; ".join(part for part in parts if part.split("=", 1)[0].strip() in names)


def _forward_headers(request: Request, rule: Rule) -> list[tuple[str, str]]:
    """The request's headers less hop-by-hop ones and any that could change who Label Studio
    thinks is asking (X-Api-Key, cookies other than the session's, client-set X-Forwarded-*);
    static files go without credentials."""
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP | _DROPPED]
    cookies = _raw_cookies(request, _COOKIES)
    public_file = _public_file(rule)
    if cookies and not public_file:
        headers.append(("cookie", cookies))
    if public_file:
        headers = [(k, v) for k, v in headers if k.lower() != "authorization"]
    client = request.client.host if request.client else ""
    return [*headers, ("x-forwarded-for", client), ("x-forwarded-proto", request.url.scheme)]


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        await upstream.aclose()


def _streamed(upstream: httpx.Response, *, drop: set[str]) -> Response:
    response = StreamingResponse(_relay(upstream), status_code=upstream.status_code)
    return _with_headers(response, upstream, drop=drop)


def _public_file(rule: Rule) -> bool:
    return not rule.credentials


def _with_headers(response: Response, upstream: httpx.Response, *, drop: set[str]) -> Response:
    """Upstream headers (every Set-Cookie kept) on our response, less hop-by-hop ones."""
    skip = _HOP | drop
    own = [(k, v) for k, v in response.raw_headers if k.decode().lower() == "content-length"]
    response.raw_headers = own + [(k.encode("latin-1"), v.encode("latin-1"))
                                  for k, v in upstream.headers.multi_items() if k.lower() not in skip]
    return response


def build_app(upstreams: list[str], data_dir: Path, *, serial_hand_out: bool = False) -> Starlette:
    creds = json.loads((data_dir / "credentials.json").read_text(encoding="utf-8"))
    gateway = Gateway(upstreams, data_dir, creds["token"], serial_hand_out=serial_hand_out)
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for client in gateway.clients:
            await client.aclose()

    return Starlette(routes=[Route("/{path:path}", gateway.handle, methods=methods)], lifespan=lifespan)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="srcrel's annotator gateway in front of Label Studio")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--upstream", required=True, action="append", help="repeat for several instances")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--serial-hand-out", action="store_true", help="one label-stream call at a time (SQLite)")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir).resolve()
    logging.basicConfig(filename=data_dir / "gateway.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise
    uvicorn.run(build_app(args.upstream, data_dir, serial_hand_out=args.serial_hand_out), host=args.host, port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
