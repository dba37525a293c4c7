"""What an annotator may do through the gateway, as data: the calls Label Studio's frontend makes
while labeling (recorded in Chromium, see docs/team-setup.md), by method, path and pinned query
values, each with what it needs checked, what its body may carry and how its response is made
blind. Everything else is refused: deny by default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["RULES", "Body", "Check", "Rewrite", "Rule", "match", "path_id", "project_of", "safe_path"]


class Check(StrEnum):
    public = "public"  # no login needed (login page, static files)
    user = "user"  # any logged-in account
    project = "project"  # the account was added to the project named in the path or ?project=
    handed = "handed"  # ... and the label stream handed the task in the path to the account
    answer = "answer"  # handed, under its overlap, and the account has no answer or skip on it yet
    annotation = "annotation"  # the annotation in the path is the account's own, in its project
    skip = "skip"  # ... and it is a skip (the screen's "Cancel skip" deletes it)
    draft = "draft"  # the draft in the path is the account's own, in its project
    first_draft = "first_draft"  # handed, and the account has no draft on the task yet


class Body(StrEnum):
    """What a call may carry. Every JSON body is parsed, rebuilt from the keys its kind allows,
    type-checked, and sent on as `application/json`, whatever the caller sent."""

    none = "none"  # nothing
    ignored = "ignored"  # a small JSON body the frontend sends (e.g. {"project": "1"}), never forwarded
    form = "form"  # the login form: email, password, CSRF token, re-encoded
    answer = "answer"  # a new answer or skip
    update = "update"  # a change of one's own answer: result, lead time, draft fields
    draft = "draft"
    draft_update = "draft_update"
    empty = "empty"  # next_task: whatever was sent (filters, selected items) is replaced by {}
    tab = "tab"  # a private Data Manager tab, answered by the gateway itself


class Rewrite(StrEnum):
    none = ""
    projects = "projects"
    project = "project"
    task = "task"
    tasks = "tasks"
    users = "users"
    ml_backends = "ml_backends"
    label_links = "label_links"
    columns = "columns"
    whoami = "whoami"
    annotation = "annotation"  # an answer or draft the account made: its own, with nothing added
    history = "history"


@dataclass(frozen=True)
class Rule:
    name: str
    method: str
    path: re.Pattern[str]
    check: Check
    query: Mapping[str, str] = field(default_factory=dict)  # pinned values, e.g. {"id": "next_task"}
    params: frozenset[str] = frozenset()  # the only query keys allowed (filters, fields, ... are not)
    rewrite: Rewrite = Rewrite.none
    body: Body = Body.none
    credentials: bool = True  # False: a file fetched without cookie or token, which may set no cookie
    # a label-stream call that hands out a task (recorded: an answer is accepted only for a task
    # handed to its account); on SQLite Label Studio's check-then-lock is not atomic (no
    # transaction), so the gateway sends these one at a time (see docs/scaling.md)
    hands_out: bool = False
    # query keys accepted but not passed on (a tab id would apply someone else's filters)
    drop_params: tuple[str, ...] = ()
    local: bool = False  # answered by the gateway itself: nothing reaches Label Studio
    page: bool = False  # an HTML page of the app: the annotator's screen is adjusted (see screen.py)


def _r(name: str, method: str, path: str, check: Check, params: tuple[str, ...] = (), **kw: Any) -> Rule:
    pinned = kw.get("query", {})
    allowed = frozenset((*params, *pinned, *kw.get("drop_params", ())))
    return Rule(name, method, re.compile(path), check, params=allowed, **kw)


_STATIC = r"^/(static|react-app|label-studio-frontend|dm)/[A-Za-z0-9_][A-Za-z0-9._/+~-]*$"
_TABS = r"^/api/dm/views/?$"
RULES: tuple[Rule, ...] = (
    _r("static files", "GET", _STATIC, Check.public, ("v",), credentials=False),
    _r("favicon", "GET", r"^/favicon\.ico$", Check.public, credentials=False),
    _r("the frontend's service worker", "GET", r"^/sw(-fallback)?\.js$", Check.public, ("v",), credentials=False),
    _r("tips shown while loading", "GET", r"^/heidi-tips/?$", Check.public, credentials=False),
    _r("login page", "GET", r"^/user/login/?$", Check.public, ("next",), page=True),
    _r("log in", "POST", r"^/user/login/?$", Check.public, ("next",), body=Body.form),
    _r("log out", "GET", r"^/(user/)?logout/?$", Check.user),
    _r("home", "GET", r"^/$", Check.user, page=True),
    _r("projects page", "GET", r"^/projects/?$", Check.user, ("page", "page_size"), page=True),
    _r("project page", "GET", r"^/projects/(?P<project>\d+)(/data)?/?$", Check.project, ("labeling", "tab", "task"),
       page=True),
    _r("version", "GET", r"^/api/version/?$", Check.user),
    _r("who am I", "GET", r"^/api/current-user/whoami/?$", Check.user, rewrite=Rewrite.whoami),
    _r("my projects", "GET", r"^/api/projects/?$", Check.user, ("page", "page_size", "include", "ids"),
       rewrite=Rewrite.projects),
    _r("project (with the guidelines)", "GET", r"^/api/projects/(?P<project>\d+)/?$", Check.project, ("include",),
       rewrite=Rewrite.project),
    _r("label stream history", "GET", r"^/api/projects/(?P<project>\d+)/label-stream-history/?$", Check.project,
       ("project",), rewrite=Rewrite.history),
    _r("next task (API)", "GET", r"^/api/projects/(?P<project>\d+)/next/?$", Check.project, rewrite=Rewrite.task,
       hands_out=True),
    _r("ML backends of the project", "GET", r"^/api/ml/?$", Check.project, ("project",),
       rewrite=Rewrite.ml_backends),
    _r("data manager columns", "GET", r"^/api/dm/columns/?$", Check.project, ("project",), rewrite=Rewrite.columns),
    _r("data manager project", "GET", r"^/api/dm/project/?$", Check.project, ("project", "interaction", "include"),
       rewrite=Rewrite.project),
    # tabs belong to the project in Label Studio (one an annotator makes can become the
    # administrator's first tab): each annotator gets a private tab the gateway answers for
    _r("data manager tabs (a private one)", "GET", _TABS, Check.project, ("project",), local=True),
    _r("a new tab (private)", "POST", _TABS, Check.project, ("project", "tabID"), body=Body.tab, local=True),
    _r("a tab's settings (private)", "PATCH", r"^/api/dm/views/(?P<tab>\d+)/?$", Check.project, ("project", "interaction"),
       body=Body.tab, local=True),
    _r("project members (yourself only)", "GET", r"^/api/users/?$", Check.project, ("project", "page", "page_size"),
       rewrite=Rewrite.users),
    _r("label links", "GET", r"^/api/label_links/?$", Check.project, ("project", "expand"),
       rewrite=Rewrite.label_links),
    # the label stream page loads the Data Manager's first page behind the editor: allowed, made
    # blind (sentences only: no answer, no annotator); no filter, query or fields
    _r("task list behind the label stream (blind)", "GET", r"^/api/tasks/?$", Check.project,
       ("project", "page", "page_size", "interaction", "resolve_uri"), rewrite=Rewrite.tasks, drop_params=("view",)),
    _r("next task (label stream)", "POST", r"^/api/dm/actions/?$", Check.project, ("project",),
       query={"id": "next_task"}, rewrite=Rewrite.task, body=Body.empty, hands_out=True, drop_params=("tabID",)),
    _r("task in the label stream (back/forward)", "GET", r"^/api/tasks/(?P<task>\d+)/?$", Check.handed,
       ("project", "resolve_uri"), query={"interaction": "labelstream"}, rewrite=Rewrite.task),
    _r("submit or skip", "POST", r"^/api/tasks/(?P<task>\d+)/annotations/?$", Check.answer, ("project",),
       body=Body.answer, rewrite=Rewrite.annotation),
    _r("save a draft", "POST", r"^/api/tasks/(?P<task>\d+)/drafts/?$", Check.first_draft, ("project",), body=Body.draft,
       rewrite=Rewrite.annotation),
    _r("update one's answer", "PATCH", r"^/api/annotations/(?P<annotation>\d+)/?$", Check.annotation,
       ("taskID", "project"), body=Body.update, rewrite=Rewrite.annotation),
    _r("cancel one's skip", "DELETE", r"^/api/annotations/(?P<annotation>\d+)/?$", Check.skip,
       ("taskID", "project"), body=Body.ignored),
    _r("update one's draft", "PATCH", r"^/api/drafts/(?P<draft>\d+)/?$", Check.draft, ("project",),
       body=Body.draft_update, rewrite=Rewrite.annotation),
    _r("drop one's draft", "DELETE", r"^/api/drafts/(?P<draft>\d+)/?$", Check.draft, ("project",), body=Body.ignored),
)

_UNSAFE_PATH = re.compile(r"(^|/)\.\.?(/|$)|//|\\|%2e|%2f|%5c|%00", re.IGNORECASE)


def safe_path(raw_path: str) -> bool:
    """False for a path that could mean another one once normalised (dot segments, encoded
    slashes or dots, backslashes, empty segments): refused before any rule is matched."""
    return not _UNSAFE_PATH.search(raw_path)


def match(method: str, path: str, query: Mapping[str, str]) -> Rule | None:
    """The rule that allows this call, or None (refused). Pinned query values must be present and
    equal, and no query key outside the rule's own (`fields`, `query`, filters...) is allowed."""
    for rule in RULES:
        if rule.method != method or not rule.path.fullmatch(path):
            continue
        if any(query.get(k) != v for k, v in rule.query.items()):
            continue
        if set(query) - rule.params:
            continue
        return rule
    return None


def project_of(rule: Rule, path: str, query: Mapping[str, str]) -> int | None:
    """The project a project-level call is about: from the path, else `?project=`."""
    found = rule.path.match(path)
    value = (found.groupdict().get("project") if found else None) or query.get("project")
    return int(value) if value and str(value).isdigit() else None


def path_id(rule: Rule, path: str, name: str) -> int:
    found = rule.path.match(path)
    return int(found.group(name)) if found and name in found.groupdict() else -1
