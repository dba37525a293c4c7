"""What an annotator may do through the gateway, as data: the calls Label Studio's frontend makes
while labeling (recorded in Chromium, see docs/team-setup.md), by method, path and pinned query
values, each with what it needs checked and how its response is made blind. Everything else is
refused. Who may label which project is srcrel's own record (`push annotators=[...]`), kept in
`<studio.data_dir>/access.json`, because Label Studio Community has no project membership.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from srcrel_core.io import atomic_write

__all__ = ["RULES", "Check", "Rule", "blind_task", "gateway_annotations", "grant", "journal_path", "match",
           "members", "read_access"]


class Check(StrEnum):
    public = "public"  # no login needed (login page, static files)
    user = "user"  # any logged-in account
    project = "project"  # the account was added to the project named in the path or ?project=
    task = "task"  # ... to the project of the task in the path
    annotation = "annotation"  # the annotation in the path is the account's own, in its project
    draft = "draft"  # the draft in the path is the account's own, in its project


@dataclass(frozen=True)
class Rule:
    name: str
    method: str
    path: re.Pattern[str]
    check: Check
    query: Mapping[str, str] = field(default_factory=dict)  # pinned values, e.g. {"id": "next_task"}
    forbid_query: tuple[str, ...] = ()  # query keys that change what the call returns
    rewrite: str = ""  # response rewrite: projects | users | task | ""
    own_body: bool = False  # the JSON body's completed_by is set to the requester


def _r(name: str, method: str, path: str, check: Check, **kw: Any) -> Rule:
    return Rule(name, method, re.compile(path), check, **kw)


_STATIC = r"^/(static|react-app|label-studio-frontend|dm)/[^?]*$"
RULES: tuple[Rule, ...] = (
    _r("static files", "GET", _STATIC, Check.public),
    _r("favicon", "GET", r"^/favicon\.ico$", Check.public),
    _r("the frontend's service worker", "GET", r"^/sw(-fallback)?\.js$", Check.public),
    _r("tips shown while loading", "GET", r"^/heidi-tips/?$", Check.public),
    _r("login page", "GET", r"^/user/login/?$", Check.public),
    _r("log in", "POST", r"^/user/login/?$", Check.public),
    _r("log out", "GET", r"^/(user/)?logout/?$", Check.user),
    _r("home", "GET", r"^/$", Check.user),
    _r("projects page", "GET", r"^/projects/?$", Check.user),
    _r("project page", "GET", r"^/projects/(?P<project>\d+)(/data)?/?$", Check.project),
    _r("version", "GET", r"^/api/version/?$", Check.user),
    _r("who am I", "GET", r"^/api/current-user/whoami/?$", Check.user),
    _r("my projects", "GET", r"^/api/projects/?$", Check.user, rewrite="projects"),
    _r("project (with the guidelines)", "GET", r"^/api/projects/(?P<project>\d+)/?$", Check.project),
    _r("label stream history", "GET", r"^/api/projects/(?P<project>\d+)/label-stream-history/?$", Check.project),
    _r("next task (API)", "GET", r"^/api/projects/(?P<project>\d+)/next/?$", Check.project, rewrite="task"),
    _r("ML backends of the project", "GET", r"^/api/ml/?$", Check.project),
    _r("data manager columns", "GET", r"^/api/dm/columns/?$", Check.project),
    _r("data manager project", "GET", r"^/api/dm/project/?$", Check.project),
    _r("data manager tabs", "GET", r"^/api/dm/views/?$", Check.project),
    _r("first data manager tab", "POST", r"^/api/dm/views/?$", Check.project),
    _r("project members (yourself only)", "GET", r"^/api/users/?$", Check.project, rewrite="users"),
    _r("label links", "GET", r"^/api/label_links/?$", Check.project),
    # the label stream page loads the Data Manager's first page behind the editor: allowed, made
    # blind (sentences only: no answer, no annotator); `fields=all` and quick view stay refused
    _r("task list behind the label stream (blind)", "GET", r"^/api/tasks/?$", Check.project, rewrite="tasks"),
    _r("next task (label stream)", "POST", r"^/api/dm/actions/?$", Check.project, query={"id": "next_task"},
       rewrite="task"),
    _r("task in the label stream (back/forward)", "GET", r"^/api/tasks/(?P<task>\d+)/?$", Check.task,
       query={"interaction": "labelstream"}, rewrite="task"),
    _r("submit or skip", "POST", r"^/api/tasks/(?P<task>\d+)/annotations/?$", Check.task, own_body=True),
    _r("save a draft", "POST", r"^/api/tasks/(?P<task>\d+)/drafts/?$", Check.task),
    _r("update one's answer", "PATCH", r"^/api/annotations/(?P<annotation>\d+)/?$", Check.annotation,
       own_body=True),
    _r("update one's draft", "PATCH", r"^/api/drafts/(?P<draft>\d+)/?$", Check.draft),
    _r("drop one's draft", "DELETE", r"^/api/drafts/(?P<draft>\d+)/?$", Check.draft),
)


def match(method: str, path: str, query: Mapping[str, str]) -> Rule | None:
    """The rule that allows this call, or None (refused). Pinned query values must be present and
    equal; `fields` (e.g. `fields=all`, every annotator's results) is never allowed."""
    for rule in RULES:
        if rule.method != method or not rule.path.match(path):
            continue
        if any(query.get(k) != v for k, v in rule.query.items()):
            continue
        if "fields" in query or any(k in query for k in rule.forbid_query):
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
    return int(found.group(name)) if found else -1


# -- the membership record --------------------------------------------------------------------

def access_path(data_dir: str | Path) -> Path:
    return Path(data_dir).resolve() / "access.json"


def read_access(data_dir: str | Path) -> dict[str, list[str]]:
    """project id (str) -> emails of the accounts added to it (lower case)."""
    path = access_path(data_dir)
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): [str(e).lower() for e in v] for k, v in raw.get("projects", {}).items()}


def grant(data_dir: str | Path, project_id: int, emails: list[str]) -> None:
    """Add accounts to a project (idempotent): the gateway lets them label it, nothing else."""
    projects = read_access(data_dir)
    known = projects.setdefault(str(project_id), [])
    known.extend(e.lower() for e in emails if e.lower() not in known)
    atomic_write(access_path(data_dir), json.dumps({"projects": projects}, indent=2) + "\n")


def journal_path(data_dir: str | Path) -> Path:
    """Where the gateway records each annotation it let an annotator make or update."""
    return Path(data_dir).resolve() / "gateway" / "annotations.jsonl"


def gateway_annotations(data_dir: str | Path) -> list[int]:
    """Ids of the annotations made or updated through the gateway (a torn last line is ignored)."""
    path = journal_path(data_dir)
    ids: set[int] = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                ids.add(int(json.loads(line)["annotation"]))
            except (ValueError, KeyError, TypeError):
                continue
    return sorted(ids)


def members(access: Mapping[str, list[str]], email: str) -> set[int]:
    """The projects an account was added to."""
    return {int(pid) for pid, emails in access.items() if email.lower() in emails}


# -- making responses blind -------------------------------------------------------------------

_BLANK = ("annotators", "annotations_ids", "annotations_results", "predictions_results", "updated_by",
          "avg_lead_time", "comment_authors", "reviewers", "completed_by")


def blind_task(task: dict[str, Any], user_id: int) -> dict[str, Any]:
    """A task as its requester may see it: their own annotations and drafts only, and no trace of
    who else answered (annotator lists, last editor, lead times)."""
    out = dict(task)
    for key in ("annotations", "drafts"):
        if isinstance(out.get(key), list):
            out[key] = [a for a in out[key] if _owner(a) == user_id]
    for key in _BLANK:
        if key in out:
            out[key] = [] if isinstance(out[key], list) else None
    return out


def _owner(item: Any) -> int | None:
    if not isinstance(item, dict):
        return None
    who = item.get("completed_by", item.get("user"))
    if isinstance(who, dict):
        who = who.get("id")
    return int(who) if isinstance(who, int) or (isinstance(who, str) and who.isdigit()) else None
