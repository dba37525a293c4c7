"""The annotator gateway: the one address annotators are given. It lets an account log in and
out, read the guidelines, take tasks from the label stream and submit, skip or update its own
answers in the projects it was added to, and refuses everything else (rules.py).

A security boundary, built as one: deny by default (a call, a query key, a body key, a request or
response header that is not listed is refused or dropped); what is forwarded is re-serialised,
never the caller's bytes; every response is rebuilt from an allow-list so that what an annotator
sees does not change when others work (blind.py); every resource is bounded: bytes and seconds
per body (bodies.py), requests per account and per address (limits), one answer per task and
account under a per-task lock taken after the body is read (guard.py), connections and header
time (serve.py).

Why Python and not nginx alone: the decisions are per user (who is asking, which projects they
were added to, whose annotation or draft an id is, which task the stream handed them) and most
responses are rewritten; both need the requester's identity, which the gateway asks Label Studio
for (`whoami`, cached a few seconds).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from labeling.gateway import blind, records, screen
from labeling.gateway.bodies import BodyError, clean_body, read_body
from labeling.gateway.guard import AnswerGuard, GuardUnavailable
from labeling.gateway.rates import Limits
from labeling.gateway.rules import Body, Check, Rewrite, Rule, match, path_id, project_of, safe_path
from labeling.gateway.upstream import (
    TooBig,
    Upstream,
    UpstreamError,
    forward_headers,
    raw_cookies,
    read_whole,
    relay,
    repeated_cookie,
)
from labeling.studio.connection import GATEWAY_HEALTH_PATH

__all__ = ["HEADER_LIMIT", "STATIC_PER_ADDRESS", "Gateway", "Limits"]

_MAX_IDENTITIES = 10_000
HEADER_LIMIT = 16 * 1024  # bytes of request headers, all together (uvicorn bounds only an unfinished block)
STATIC_PER_ADDRESS = 8  # static files relayed at once to one address (a browser fetches at most 6)
_ANSWER, _DRAFT = 1, 2  # the guard's kinds of key
log = logging.getLogger("srcrel.gateway")


class Gateway:
    def __init__(self, upstream: Upstream, data_dir: Path, guard: AnswerGuard, limits: Limits) -> None:
        self.upstream, self.data_dir, self.guard, self.limits = upstream, data_dir, guard, limits
        self.identities: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self.handouts = records.HandOuts(data_dir)
        self.journal = records.journal_path(data_dir)
        self._access: tuple[float, dict[str, list[str]]] = (-1.0, {})
        self._static: dict[str, int] = {}  # address -> static files being relayed to it

    def members(self, email: str) -> set[int]:
        path = records.access_path(self.data_dir)
        mtime = path.stat().st_mtime if path.is_file() else 0.0
        if mtime != self._access[0]:
            self._access = (mtime, records.read_access(self.data_dir))
        return records.members(self._access[1], email)

    async def identify(self, request: Request) -> dict[str, Any] | None:
        """{id, email} of the account behind the request's session cookie or token, or None (also
        for a request carrying two Authorization headers: which one upstream reads is not ours)."""
        if len(request.headers.getlist("authorization")) > 1 or len(request.headers.getlist("cookie")) > 1:
            return None
        key = (raw_cookies(request, {"sessionid"}), request.headers.get("authorization", ""))
        if not any(key):
            return None
        cached = self.identities.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        # each look-up costs Label Studio a call: made-up credentials are counted per address
        if not await self.limits.test("address", _address(request)):
            raise _TooMany()
        if len(self.identities) > _MAX_IDENTITIES:
            self.identities.clear()
        headers = {k: v for k, v in (("cookie", key[0]), ("authorization", key[1])) if v}
        answer = await self.upstream.get("/api/current-user/whoami", headers)
        if answer.status_code >= 500:
            raise UpstreamError(f"whoami answered {answer.status_code}")
        who = None
        if answer.status_code == 200:
            body = answer.json()
            who = {"id": int(body["id"]), "email": str(body.get("email", ""))}
        self.identities[key] = (time.monotonic() + 10.0, who)
        if who is None:
            await self.limits.allow("address", _address(request))
        return who

    async def handle(self, request: Request) -> Response:
        try:
            return await self._handle(request)
        except _TooMany:
            return JSONResponse({"detail": "too many requests: wait a moment"}, status_code=429,
                                headers={"Retry-After": "1"})
        except BodyError as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers={"Connection": "close"})
        except GuardUnavailable as exc:
            log.warning("no answer lock for %s %s: %s", request.method, request.url.path, exc)
            return JSONResponse({"detail": "srcrel's gateway could not take this task's lock (nothing was saved); "
                                 "try again in a minute"}, status_code=503, headers={"Retry-After": "5"})
        except TooBig:
            return JSONResponse({"detail": "Label Studio's answer is too large for the gateway"}, status_code=502)
        except (httpx.TransportError, UpstreamError) as exc:
            log.warning("Label Studio did not answer %s %s: %s", request.method, request.url.path,
                        type(exc).__name__)
            unsent = isinstance(exc, httpx.ConnectError | UpstreamError)  # refused before it reached Label Studio
            detail = "nothing was saved" if unsent else "what was sent may or may not be saved: reload to check"
            return JSONResponse({"detail": f"Label Studio is not answering ({detail}); try again in a minute"},
                                status_code=502)

    async def _handle(self, request: Request) -> Response:
        path, query = request.url.path, dict(request.query_params)
        if path == GATEWAY_HEALTH_PATH:
            return JSONResponse({"status": "UP"})
        if sum(len(k) + len(v) for k, v in request.scope["headers"]) > HEADER_LIMIT:
            return JSONResponse({"detail": "request headers too large"}, status_code=431, headers={"Connection": "close"})
        if repeated_cookie(request):
            return JSONResponse({"detail": "a cookie sent twice: refused by srcrel's gateway"}, status_code=400)
        raw_path = request.scope.get("raw_path", b"").decode("latin-1")
        if not (safe_path(raw_path) and safe_path(path)) or len(request.query_params.multi_items()) != len(query):
            return self.refuse(request, None)  # a query key twice: which one upstream reads is not ours
        rule = match(request.method, path, query)
        if rule is None:
            return self.refuse(request, None)
        who = None
        if rule.check is not Check.public:
            who = await self.identify(request)
            if who is None:
                if path.startswith("/api/"):
                    return JSONResponse({"detail": "log in first"}, status_code=401)
                return RedirectResponse(f"/user/login/?next={path}", status_code=302)
            if not await self.limits.allow("account", str(who["id"])) or (
                    rule.hands_out and not await self.limits.allow("handout", str(who["id"]))):
                raise _TooMany()
        raw = await read_body(request, rule.body)
        cleaned = clean_body(request, rule.body, raw)
        if cleaned is None:
            return JSONResponse({"detail": "a body this call does not take: refused by srcrel's gateway"},
                                status_code=400)
        if rule.body is Body.form:  # password guessing: per address and account, and failures per address
            email = dict(parse_qsl(cleaned[0].decode())).get("email", "").strip().lower()  # as Django reads it
            if not await self.limits.test("address", _address(request)) or \
                    not await self.limits.allow("login", f"{_address(request)} {email}"):
                raise _TooMany()
        if who is not None and rule.page and (target := screen.landing(rule, path, self.members(who["email"]))):
            return RedirectResponse(target, status_code=302)
        task = path_id(rule, path, "task")
        key = (_ANSWER, (task,)) if rule.check is Check.answer else (_DRAFT, (who["id"], task)) \
            if who is not None and rule.check is Check.first_draft else None
        async with self.guard.hold(*key) if key else contextlib.nullcontext():
            if who is not None and not await self.allowed(rule, request, who):
                return self.refuse(request, who)
            if rule.local:
                return screen.private_tab(request, rule, who, cleaned[0])
            return await self.forward(request, rule, who, cleaned)

    async def allowed(self, rule: Rule, request: Request, who: dict[str, Any]) -> bool:
        """The per-user half of a rule: membership of the project, ownership of the id, the task
        handed by the label stream, one answer per task under its overlap."""
        path, query = request.url.path, dict(request.query_params)
        mine = self.members(who["email"])
        if rule.check is Check.user:
            return True
        if rule.check is Check.project:
            return project_of(rule, path, query) in mine
        if rule.check in (Check.handed, Check.answer, Check.first_draft):
            task_id = path_id(rule, path, "task")
            if not self.handouts.handed(who["id"], task_id):
                return False
            task = await self.upstream.admin_json(f"/api/tasks/{task_id}/")
            if not task or task.get("project") not in mine:
                return False
            if rule.check is Check.first_draft:
                drafts = await self.upstream.admin_json(f"/api/tasks/{task_id}/drafts")
                return isinstance(drafts, list) and not any(blind.is_owner(d, who["id"], who["email"]) for d in drafts)
            if rule.check is Check.answer:
                answers = task.get("annotations")
                if not isinstance(answers, list) or any(blind.is_owner(a, who["id"]) for a in answers):
                    return False  # one answer per task and account, a skip included
                live = sum(1 for a in answers if isinstance(a, dict) and not a.get("was_cancelled")
                           and not a.get("ground_truth"))
                return live < int(task.get("overlap") or 1)
            return True
        kind = "drafts" if rule.check is Check.draft else "annotations"
        item = await self.upstream.admin_json(f"/api/{kind}/{path_id(rule, path, rule.check.value if kind == 'drafts' else 'annotation')}/")
        if not item or not blind.is_owner(item, who["id"], who["email"]):
            return False
        if rule.check is Check.annotation and item.get("was_cancelled"):
            return False  # a skip is not updated: "Cancel skip" deletes it
        if rule.check is Check.skip and not item.get("was_cancelled"):
            return False  # an answer is never deleted through the gateway
        task = item.get("task")
        return isinstance(task, int) and await self.upstream.project_of_task(task) in mine

    async def forward(self, request: Request, rule: Rule, who: dict[str, Any] | None,
                      cleaned: tuple[bytes, str]) -> Response:
        body, media = cleaned
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in rule.drop_params]
        if not rule.credentials:
            return await self.static(request, rule, params)
        answer = await self.upstream.send(request.method, request.url.path, params=params, content=body,
                                          headers=forward_headers(request, rule, media), hands_out=rule.hands_out)
        if rule.body is Body.form and answer.status_code == 200:  # the form again: a failed log-in
            await self.limits.allow("address", _address(request))
        if rule.rewrite is Rewrite.none and not rule.page:
            return relay(answer, rewritten=False, public=False, body=await read_whole(answer))
        await answer.aread()
        if rule.page:
            return screen.page(answer)
        if answer.status_code not in (200, 201) or who is None:
            return relay(answer, rewritten=True, public=False, body=json.dumps({"detail": _detail(answer)}).encode())
        data = answer.json()
        if rule.hands_out and isinstance(data, dict) and isinstance(data.get("id"), int):
            self.handouts.record(who["id"], data["id"], int(data.get("project") or -1))
        if rule.body in (Body.answer, Body.update) and isinstance(data, dict) and isinstance(data.get("id"), int):
            records.append_line(self.journal, {"annotation": data["id"], "task": data.get("task"), "user": who["id"],
                                               "action": "updated" if request.method == "PATCH" else "created",
                                               "at": round(time.time(), 3)})
        shown = await self.shown(request, rule, data)
        out = rewrite(rule.rewrite, data, who, self.members(who["email"]), shown)
        return relay(answer, rewritten=True, public=False, body=json.dumps(out).encode())

    async def static(self, request: Request, rule: Rule, params: list[tuple[str, str]]) -> Response:
        """A file of the app (no credentials), read whole before it is sent, and a few at a time
        per address: a client that never reads its answers holds no connection to Label Studio."""
        address = _address(request)
        if self._static.get(address, 0) >= STATIC_PER_ADDRESS:
            return JSONResponse({"detail": "too many files at once"}, status_code=503, headers={"Retry-After": "1"})
        self._static[address] = self._static.get(address, 0) + 1
        try:
            answer = await self.upstream.send(request.method, request.url.path, params=params,
                                              headers=forward_headers(request, rule, ""))
            return relay(answer, rewritten=False, public=True, body=await read_whole(answer))
        finally:
            self._static[address] -= 1
            if not self._static[address]:
                del self._static[address]

    async def shown(self, request: Request, rule: Rule, data: Any) -> frozenset[str]:
        """The task data keys the project's labeling screen shows."""
        if rule.rewrite not in (Rewrite.task, Rewrite.tasks, Rewrite.columns):
            return frozenset()
        project = project_of(rule, request.url.path, dict(request.query_params))
        if project is None and isinstance(data, dict) and isinstance(data.get("project"), int):
            project = data["project"]
        return await self.upstream.shown_keys(project) if project is not None else frozenset()

    def refuse(self, request: Request, who: dict[str, Any] | None) -> Response:
        log.info("refused %s %s (%s)", request.method, request.url.path, who["email"] if who else "no rule")
        return screen.refused(request.url.path)


def rewrite(kind: Rewrite, data: Any, who: dict[str, Any], mine: set[int], shown: frozenset[str]) -> Any:
    uid, email = who["id"], who["email"]
    if kind is Rewrite.task and isinstance(data, dict):
        return blind.blind_task(data, uid, email, shown)
    if kind is Rewrite.tasks and isinstance(data, dict):
        return {"tasks": [blind.blind_task(t, uid, email, shown) for t in data.get("tasks", []) if isinstance(t, dict)],
                "total": data.get("total")}
    if kind is Rewrite.annotation:
        return blind.blind_item(data)
    if kind is Rewrite.columns:
        return blind.blind_columns(data, shown)
    if kind is Rewrite.project and isinstance(data, dict):
        return blind.blind_project(data)
    if kind is Rewrite.whoami and isinstance(data, dict):
        return {k: v for k, v in data.items() if k in screen.WHOAMI_KEYS}
    if kind is Rewrite.history and isinstance(data, list):
        return [{k: v for k, v in h.items() if k in ("taskId", "annotationId")} for h in data if isinstance(h, dict)]
    items = data.get("results", data) if isinstance(data, dict) else data
    items = items if isinstance(items, list) else []
    if kind is Rewrite.users:
        items = [{k: v for k, v in u.items() if k in screen.WHOAMI_KEYS} for u in items
                 if isinstance(u, dict) and u.get("id") == uid]
    elif kind is Rewrite.projects:
        items = [blind.blind_project(p) for p in items if isinstance(p, dict) and p.get("id") in mine]
    elif kind is Rewrite.ml_backends:  # no backend URL, error text or auth user
        return [{k: v for k, v in b.items() if k in blind.ML_BACKEND_KEYS} for b in items if isinstance(b, dict)]
    elif kind is Rewrite.label_links:  # no count of everyone's answers per label
        items = [{k: v for k, v in i.items() if k != "annotations_count"} for i in items if isinstance(i, dict)]
    return {"results": items, "count": len(items)} if isinstance(data, dict) else items


class _TooMany(Exception):
    pass


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _detail(answer: httpx.Response) -> str:
    """Label Studio's refusal, as text only (its error bodies may name other records)."""
    try:
        body = answer.json()
    except ValueError:
        return f"Label Studio answered {answer.status_code}"
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail)[:300] if isinstance(detail, str) else f"Label Studio answered {answer.status_code}"

