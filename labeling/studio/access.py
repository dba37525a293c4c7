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

__all__ = [
    "RULES",
    "Body",
    "Check",
    "Rule",
    "blind_task",
    "clean_body",
    "gateway_annotations",
    "grant",
    "journal_path",
    "match",
    "members",
    "prefilled",
    "read_access",
    "safe_path",
]


class Check(StrEnum):
    public = "public"  # no login needed (login page, static files)
    user = "user"  # any logged-in account
    project = "project"  # the account was added to the project named in the path or ?project=
    task = "task"  # ... to the project of the task in the path
    first_answer = "first_answer"  # task, and the account has no answer on it yet (updates are PATCH)
    annotation = "annotation"  # the annotation in the path is the account's own, in its project
    draft = "draft"  # the draft in the path is the account's own, in its project


class Body(StrEnum):
    """What a call may carry: nothing, the login form, or one JSON object rebuilt from allowed keys."""

    none = "none"
    form = "form"  # the login form, passed on as sent (no session yet)
    annotation = "annotation"  # result, lead time, skip; completed_by set to the requester
    draft = "draft"
    view = "view"  # a Data Manager tab of the same project, without filters or ordering
    empty = "empty"  # next_task: the body (filters, selected items) is replaced by {}


# keys of a JSON body that a call may set; everything else (task, project, completed_by,
# ground_truth, updated_by, parent_annotation, filters, ...) is dropped before forwarding
BODY_KEYS: dict[Body, frozenset[str]] = {
    Body.annotation: frozenset({"result", "lead_time", "was_cancelled", "draft_id", "started_at"}),
    Body.draft: frozenset({"result", "lead_time", "started_at", "was_postponed"}),
    Body.view: frozenset({"project", "data"}),
}
VIEW_DATA_DROP = frozenset({"filters", "ordering", "selectedItems", "query"})


@dataclass(frozen=True)
class Rule:
    name: str
    method: str
    path: re.Pattern[str]
    check: Check
    query: Mapping[str, str] = field(default_factory=dict)  # pinned values, e.g. {"id": "next_task"}
    params: frozenset[str] = frozenset()  # the only query keys allowed (filters, fields, ... are not)
    rewrite: str = ""  # response rewrite: projects | users | task | tasks | ""
    body: Body = Body.none
    credentials: bool = True  # False: a file fetched without cookie or token, which may set no cookie
    # a label-stream call that hands out a task: on SQLite Label Studio's check-then-lock is not
    # atomic (no transaction), so the gateway sends these one at a time (see docs/scaling.md)
    hands_out: bool = False
    # query keys accepted but not passed on (a tab id would apply someone else's filters)
    drop_params: tuple[str, ...] = ()


def _r(name: str, method: str, path: str, check: Check, params: tuple[str, ...] = (), **kw: Any) -> Rule:
    pinned = kw.get("query", {})
    allowed = frozenset((*params, *pinned, *kw.get("drop_params", ())))
    return Rule(name, method, re.compile(path), check, params=allowed, **kw)


_STATIC = r"^/(static|react-app|label-studio-frontend|dm)/[A-Za-z0-9_][A-Za-z0-9._/+~-]*$"
RULES: tuple[Rule, ...] = (
    _r("static files", "GET", _STATIC, Check.public, ("v",), credentials=False),
    _r("favicon", "GET", r"^/favicon\.ico$", Check.public, credentials=False),
    _r("the frontend's service worker", "GET", r"^/sw(-fallback)?\.js$", Check.public, ("v",), credentials=False),
    _r("tips shown while loading", "GET", r"^/heidi-tips/?$", Check.public, credentials=False),
    _r("login page", "GET", r"^/user/login/?$", Check.public, ("next",)),
    _r("log in", "POST", r"^/user/login/?$", Check.public, ("next",), body=Body.form),
    _r("log out", "GET", r"^/(user/)?logout/?$", Check.user),
    _r("home", "GET", r"^/$", Check.user),
    _r("projects page", "GET", r"^/projects/?$", Check.user, ("page", "page_size")),
    _r("project page", "GET", r"^/projects/(?P<project>\d+)(/data)?/?$", Check.project, ("labeling", "tab", "task")),
    _r("version", "GET", r"^/api/version/?$", Check.user),
    _r("who am I", "GET", r"^/api/current-user/whoami/?$", Check.user),
    _r("my projects", "GET", r"^/api/projects/?$", Check.user, ("page", "page_size", "include", "ids"),
       rewrite="projects"),
    _r("project (with the guidelines)", "GET", r"^/api/projects/(?P<project>\d+)/?$", Check.project, ("include",),
       rewrite="project"),
    _r("label stream history", "GET", r"^/api/projects/(?P<project>\d+)/label-stream-history/?$", Check.project,
       ("project",)),
    _r("next task (API)", "GET", r"^/api/projects/(?P<project>\d+)/next/?$", Check.project, rewrite="task",
       hands_out=True),
    _r("ML backends of the project", "GET", r"^/api/ml/?$", Check.project, ("project",), rewrite="ml_backends"),
    _r("data manager columns", "GET", r"^/api/dm/columns/?$", Check.project, ("project",)),
    _r("data manager project", "GET", r"^/api/dm/project/?$", Check.project, ("project", "interaction", "include"),
       rewrite="project"),
    _r("data manager tabs (one's own)", "GET", r"^/api/dm/views/?$", Check.project, ("project",), rewrite="views"),
    _r("first data manager tab", "POST", r"^/api/dm/views/?$", Check.project, ("project", "tabID"), body=Body.view),
    _r("project members (yourself only)", "GET", r"^/api/users/?$", Check.project, ("project", "page", "page_size"),
       rewrite="users"),
    _r("label links", "GET", r"^/api/label_links/?$", Check.project, ("project", "expand"), rewrite="label_links"),
    # the label stream page loads the Data Manager's first page behind the editor: allowed, made
    # blind (sentences only: no answer, no annotator); no filter, query or fields
    _r("task list behind the label stream (blind)", "GET", r"^/api/tasks/?$", Check.project,
       ("project", "page", "page_size", "interaction", "resolve_uri"), rewrite="tasks", drop_params=("view",)),
    _r("next task (label stream)", "POST", r"^/api/dm/actions/?$", Check.project, ("project", "tabID"),
       query={"id": "next_task"}, rewrite="task", body=Body.empty, hands_out=True),
    _r("task in the label stream (back/forward)", "GET", r"^/api/tasks/(?P<task>\d+)/?$", Check.task,
       ("project", "resolve_uri"), query={"interaction": "labelstream"}, rewrite="task"),
    _r("submit or skip", "POST", r"^/api/tasks/(?P<task>\d+)/annotations/?$", Check.first_answer, ("project",),
       body=Body.annotation),
    _r("save a draft", "POST", r"^/api/tasks/(?P<task>\d+)/drafts/?$", Check.task, ("project",), body=Body.draft),
    _r("update one's answer", "PATCH", r"^/api/annotations/(?P<annotation>\d+)/?$", Check.annotation,
       ("taskID", "project"), body=Body.annotation),
    _r("update one's draft", "PATCH", r"^/api/drafts/(?P<draft>\d+)/?$", Check.draft, ("project",),
       body=Body.draft),
    _r("drop one's draft", "DELETE", r"^/api/drafts/(?P<draft>\d+)/?$", Check.draft, ("project",)),
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


def clean_body(rule: Rule, data: Any, *, user_id: int, project: int | None) -> dict[str, Any] | None:
    """The JSON body to forward for `rule`, rebuilt from allowed keys; None: refuse the call."""
    if rule.body is Body.empty:
        return {}
    if not isinstance(data, dict):
        return None
    kept = {k: v for k, v in data.items() if k in BODY_KEYS.get(rule.body, frozenset())}
    if rule.body is Body.annotation:
        kept["completed_by"] = user_id
    if rule.body is Body.view:
        if str(kept.get("project")) != str(project) or not isinstance(kept.get("data", {}), dict):
            return None  # the frontend sends the project as a string or a number
        kept["data"] = {k: v for k, v in kept.get("data", {}).items() if k not in VIEW_DATA_DROP}
    return kept


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

# what an annotator's screen needs of a project; not the counts over every annotator's work, nor
# the credentials for task data
PROJECT_KEYS = frozenset({"id", "title", "description", "label_config", "parsed_label_config", "expert_instruction",
                          "show_instruction", "show_skip_button", "enable_empty_annotation", "show_annotation_history",
                          "color", "config_has_control_tags", "queue_total", "queue_done", "task_count",
                          "maximum_annotations", "sampling", "show_collab_predictions", "is_published", "is_draft",
                          "created_at", "skip_queue", "reveal_preannotations_interactively", "show_ground_truth_first",
                          "show_overlap_first", "allow_stream", "annotation_limit_count", "annotation_limit_percent",
                          "pause_on_failed_annotator_evaluation", "custom_task_lock_ttl", "comment_classification_config",
                          "require_comment_on_skip", "show_comments", "annotator_evaluation_enabled", "pinned_at",
                          "model_version", "evaluate_predictions_automatically"})


def blind_project(project: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in project.items() if k in PROJECT_KEYS}


# what the labeling screen reads of a project's ML backends (is one interactive?); not its URL,
# error text (a traceback), auth user, timeout or extra params
ML_BACKEND_KEYS = frozenset({"id", "project", "title", "state", "readable_state", "is_interactive", "model_version"})


# the keys of a task an annotator receives; anything else (annotator lists, counts of others'
# answers and skips, comments, last editor, lead times) is dropped
TASK_KEYS = frozenset({"id", "data", "project", "inner_id", "annotations", "drafts", "predictions", "created_at",
                       "updated_at", "file_upload", "storage_filename", "meta", "queue"})


def blind_task(task: dict[str, Any], user_id: int, email: str = "") -> dict[str, Any]:
    """A task as its requester may see it: their own annotations and drafts only, and no trace of
    who else answered (annotator lists, counts, last editor, lead times)."""
    out = {k: v for k, v in task.items() if k in TASK_KEYS}
    if "predictions" in out and not prefilled(out.get("data")):
        out["predictions"] = []  # a model's answer anchors: the loop's controls never see one
    for key in ("annotations", "drafts"):
        if isinstance(out.get(key), list):
            out[key] = [a for a in out[key] if is_owner(a, user_id, email)]
    return out


def prefilled(data: Any) -> bool:
    """Whether an annotator may see a task's predictions. A task of `srcrel loop` says so itself
    (`loop_prefilled`: never the audit sample, never the anchoring check's control group); on any
    other task, the project's pre-annotation setting (Label Studio's show_collab_predictions,
    which `srcrel backend preannotate=` sets) has already decided."""
    if not isinstance(data, dict) or "loop_prefilled" not in data:
        return True
    return data["loop_prefilled"] is True


def is_owner(item: Any, user_id: int, email: str = "") -> bool:
    """Whether an annotation or draft is the requester's: Label Studio names an annotation's
    author by id (or {id, email}) and a draft's by email."""
    if not isinstance(item, dict):
        return False
    who = item.get("completed_by", item.get("user"))
    if isinstance(who, dict):
        who = who.get("id", who.get("email"))
    if isinstance(who, int):
        return who == user_id
    if isinstance(who, str):
        return (who.isdigit() and int(who) == user_id) or (bool(email) and who.lower() == email.lower())
    return False
