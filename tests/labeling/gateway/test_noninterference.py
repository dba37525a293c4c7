"""Blindness proven by non-interference: everything the gateway returns to annotator A is a
function of A's own actions and of the tasks, never of what other annotators do.

Two projects hold the same six sentences (overlap 3: A, B and C each label all of them, so
overlap itself never takes a task out of A's queue). A runs the same scripted session on both:
the screen's calls (pages, project, columns, tabs, task list, history, next, drafts, submit,
skip, back arrow, update, cancel skip, the 20-second poll). On the second project, B and C
answer, skip and save drafts between A's steps. Every response A receives, normalised only for
the ids that differ between the two projects (project, tasks, predictions, A's own answers and
drafts) and for A's own timestamps, must be equal. A field that a future Label Studio adds and
that moves with others' work fails this test instead of leaking.

The two projects also differ in the model in the loop's bookkeeping: the same sentence is in the
audit sample in one and not in the other, carries another model answer and score, and has a
prediction the loop does not pre-fill; only the pre-filled task's prediction may show, and it is
the same in both.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from labeling.studio import api
from labeling.studio.config import StudioSettings
from labeling.studio.connection import gateway_url, resolve_connection
from tests.conftest import write_ingest_dir
from tests.labeling.gateway.conftest import choice, login, push

pytestmark = [pytest.mark.studio]
A, B, C = "ni-a@example.org", "ni-b@example.org", "ni-c@example.org"
AUDIT, PREFILLED = 1, 3  # the sentences whose loop bookkeeping differs, and the one pre-filled in both


def _variant(base: Path, out: Path, variant: int) -> Path:
    shutil.copytree(base, out)
    items = json.loads((out / "tasks.json").read_text())
    audit = variant == 1
    items[AUDIT]["meta"] = {"loop_round": 2, "loop_strategy": "audit" if audit else "uncertainty",
                            "loop_audit": audit, "loop_score": 0.31 if audit else 0.93, "loop_prefilled": False,
                            "loop_model_label": "opinion" if audit else "sourced", "loop_model_version": "m-r1"}
    items[AUDIT]["predictions"] = [{"model_version": "m-r1", "score": 0.31 if audit else 0.93,
                                    "result": choice("opinion" if audit else "sourced")}]
    items[PREFILLED]["meta"] = {"loop_round": 2, "loop_strategy": "uncertainty", "loop_audit": False,
                                "loop_score": 0.5, "loop_prefilled": True, "loop_model_label": "unverifiable",
                                "loop_model_version": "m-r1"}
    items[PREFILLED]["predictions"] = [{"model_version": "m-r1", "score": 0.5, "result": choice("unverifiable")}]
    (out / "tasks.json").write_text(json.dumps(items))
    return out


class _Ids:
    """Typed maps from one project's ids to names both runs share."""

    def __init__(self, project: int, title: str, tasks: list[int], predictions: dict[int, str]) -> None:
        self.maps: dict[str, dict[int, str]] = {
            "project": {project: "<project>"}, "task": {t: f"<task {i}>" for i, t in enumerate(tasks)},
            "prediction": predictions, "annotation": {}, "draft": {}}
        self.title = title

    def own(self, kind: str, value: int) -> None:
        self.maps[kind].setdefault(value, f"<{kind} {len(self.maps[kind])}>")


_KEY_KIND = {"project": "project", "projectId": "project", "task": "task", "taskId": "task", "annotation": "annotation",
             "annotationId": "annotation", "draft_id": "draft", "parent_prediction": "prediction"}
_LIST_KIND = {"annotations": "annotation", "drafts": "draft", "predictions": "prediction", "tasks": "task",
              "completed_by": "user"}
_OWN_TIMES = {"created_at", "updated_at", "started_at", "draft_created_at", "created_ago", "last_activity"}
_OWN_KINDS = {"annotation", "draft", "user", "project"}  # A's own records, and the project's creation time


def _norm(value: Any, kind: str, ids: _Ids) -> Any:
    if isinstance(value, list):
        return [_norm(v, kind, ids) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == "id" and isinstance(item, int):
            out[key] = ids.maps.get(kind, {}).get(item, item)
        elif key in _KEY_KIND and isinstance(item, int):
            out[key] = ids.maps[_KEY_KIND[key]].get(item, item)
        elif key in _OWN_TIMES and kind in _OWN_KINDS:
            out[key] = "<time>"
        elif key in ("unique_id", "unique_lock_id"):  # the lock Label Studio gave A: random
            out[key] = "<lock>"
        elif key == "title" and item == ids.title:
            out[key] = "<title>"
        else:
            out[key] = _norm(item, _LIST_KIND.get(key, kind), ids)
    return out


def _norm_html(text: str, ids: _Ids) -> str:
    project = next(iter(ids.maps["project"]))
    text = re.sub(r'(csrfmiddlewaretoken" value=|csrf_token["\']?\s*[:=]\s*|nonce=)"[^"]*"', r'\1"<secret>"', text)
    text = text.replace(f'"{ids.title}"', '"<title>"')
    return re.sub(rf"(projectId: |/projects/){project}\b", r"\1<project>", text)


Step = tuple[str, int, Any]


def _script(session: requests.Session, base: str, pid: int, ids: _Ids,
            between: Callable[[str], None]) -> list[Step]:
    """A's session: the calls the labeling screen makes, in its order (see docs/team-setup.md)."""
    steps: list[Step] = []

    def call(label: str, method: str, path: str, kind: str = "", body: Any = None, own: str = "") -> Any:
        answer = session.request(method, base + path, json=body, timeout=60, allow_redirects=False)
        data: Any = answer.text
        if "json" in answer.headers.get("content-type", ""):
            data = answer.json()
            if own and isinstance(data, dict) and isinstance(data.get("id"), int):
                ids.own(own, data["id"])
            data = _norm(data, kind, ids)
        else:
            data = _norm_html(data, ids)
        location = answer.headers.get("location", "").replace(f"/{pid}/", "/<project>/")
        steps.append((label, answer.status_code, [data, location]))
        return answer.json() if "json" in answer.headers.get("content-type", "") else None

    def next_task(label: str) -> int:
        handed = call(label, "POST", f"/api/dm/actions?id=next_task&project={pid}", "task", {})
        return int(handed["id"])

    q = f"?project={pid}"
    call("home", "GET", "/")
    call("project page", "GET", f"/projects/{pid}/data?labeling=1")
    call("version", "GET", "/api/version")
    call("whoami", "GET", "/api/current-user/whoami", "user")
    call("my project", "GET", f"/api/projects?ids={pid}&include=id,title,label_config", "project")
    call("project", "GET", f"/api/projects/{pid}", "project")
    call("ml", "GET", f"/api/ml{q}")
    call("columns", "GET", f"/api/dm/columns{q}")
    call("poll", "GET", f"/api/dm/project{q}&interaction=timer", "project")
    call("tabs", "GET", f"/api/dm/views{q}")
    call("users", "GET", f"/api/users{q}", "user")
    call("label links", "GET", f"/api/label_links{q}")
    call("task list", "GET", f"/api/tasks?page=1&page_size=30&project={pid}", "task")
    call("history", "GET", f"/api/projects/{pid}/label-stream-history")
    first = next_task("next 1")
    between("A took a task")
    draft = call("draft", "POST", f"/api/tasks/{first}/drafts{q}", "draft",
                 {"result": choice("opinion"), "lead_time": 1.0}, own="draft")
    call("autosave", "PATCH", f"/api/drafts/{draft['id']}{q}", "draft", {"result": choice("sourced"), "lead_time": 2.0})
    between("A saved a draft")
    made = call("submit", "POST", f"/api/tasks/{first}/annotations{q}", "annotation",
                {"result": choice("sourced"), "lead_time": 3.0, "draft_id": draft["id"]}, own="annotation")
    between("A submitted")
    call("poll", "GET", f"/api/dm/project{q}&interaction=timer", "project")
    second = next_task("next 2")
    skip = call("skip", "POST", f"/api/tasks/{second}/annotations{q}", "annotation",
                {"result": [], "was_cancelled": True, "lead_time": 1.0}, own="annotation")
    between("A skipped")
    for n in range(3, 5):
        task = next_task(f"next {n}")
        call(f"submit {n}", "POST", f"/api/tasks/{task}/annotations{q}", "annotation",
             {"result": choice("unverifiable"), "lead_time": 2.0}, own="annotation")
        between(f"A submitted {n}")
    call("back arrow", "GET", f"/api/tasks/{first}?interaction=labelstream&project={pid}", "task")
    call("update", "PATCH", f"/api/annotations/{made['id']}?taskID={first}&project={pid}", "annotation",
         {"result": choice("opinion"), "lead_time": 4.0})
    between("A updated")
    call("reload after update", "GET", f"/api/tasks/{first}?interaction=labelstream&project={pid}", "task")
    call("back to the skip", "GET", f"/api/tasks/{second}?interaction=labelstream&project={pid}", "task")
    call("cancel skip: draft", "POST", f"/api/tasks/{second}/drafts{q}", "draft",
         {"result": [], "lead_time": 1.0}, own="draft")
    call("cancel skip: delete", "DELETE", f"/api/annotations/{skip['id']}?taskID={second}&project={pid}", "",
         {"project": str(pid)})
    between("A cancelled a skip")
    call("after cancel skip", "GET", f"/api/tasks/{second}?interaction=labelstream&project={pid}", "task")
    call("submit after cancel skip", "POST", f"/api/tasks/{second}/annotations{q}", "annotation",
         {"result": choice("sourced"), "lead_time": 2.0}, own="annotation")
    for n in range(5, 8):  # the rest of the stream, then "no more tasks"
        handed = call(f"next {n} (API)", "GET", f"/api/projects/{pid}/next", "task")
        if isinstance(handed, dict) and isinstance(handed.get("id"), int):
            call(f"submit {n}", "POST", f"/api/tasks/{handed['id']}/annotations{q}", "annotation",
                 {"result": choice("opinion"), "lead_time": 2.0}, own="annotation")
        between(f"A's step {n}")
    call("project at the end", "GET", f"/api/projects/{pid}", "project")
    call("poll at the end", "GET", f"/api/dm/project{q}&interaction=timer", "project")
    call("task list at the end", "GET", f"/api/tasks?page=1&page_size=30&project={pid}", "task")
    call("history at the end", "GET", f"/api/projects/{pid}/label-stream-history")
    call("project page at the end", "GET", f"/projects/{pid}/data?labeling=1")
    return steps


def _others(base: str, pid: int, tokens: dict[str, str]) -> Callable[[str], None]:
    """B and C at work on a project, through the gateway: each call answers, skips or drafts."""
    def act(who: str, what: str) -> None:
        auth = {"Authorization": f"Token {tokens[who]}"}
        handed = requests.post(f"{base}/api/dm/actions?id=next_task&project={pid}", json={}, headers=auth, timeout=60)
        if handed.status_code != 200:
            return
        task = handed.json()["id"]
        if what == "draft":
            made = requests.post(f"{base}/api/tasks/{task}/drafts?project={pid}", headers=auth, timeout=60,
                                 json={"result": choice("opinion"), "lead_time": 1.0})
            assert made.status_code == 201, made.text
            return
        body = {"result": choice("sourced" if who == B else "unverifiable"), "lead_time": 1.0,
                "was_cancelled": what == "skip"}
        made = requests.post(f"{base}/api/tasks/{task}/annotations?project={pid}", headers=auth, json=body, timeout=60)
        assert made.status_code == 201, made.text
        if what == "update":
            requests.patch(f"{base}/api/annotations/{made.json()['id']}?project={pid}", headers=auth, timeout=60,
                           json={"result": choice("opinion"), "lead_time": 2.0})

    plan = [(B, "answer"), (C, "draft"), (B, "skip"), (C, "answer"), (C, "update"), (B, "draft"), (B, "answer"),
            (C, "skip"), (B, "answer"), (C, "answer"), (B, "update"), (C, "answer")]

    def between(_: str) -> None:
        for _ in range(2):
            if plan:
                act(*plan.pop(0))
    return between


@pytest.fixture(scope="module")
def twins(studio_settings: StudioSettings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("twins")
    base = write_ingest_dir(tmp / "base", 6, prefix="ni")
    pushed = [push(studio_settings, _variant(base, tmp / f"in-{v}", v), f"twin-{v}", [A, B, C],
                   "project.maximum_annotations=3") for v in (1, 2)]
    admin = api.connect(resolve_connection(studio_settings))
    tokens = {who: api.get_user_token(studio_settings, who) for who in (B, C)}
    return {"pushed": pushed, "admin": admin, "tokens": tokens}


def _ids(twins: dict[str, Any], n: int) -> _Ids:
    project = twins["pushed"][n].project_id
    tasks = sorted(t for t, _ in api.list_task_refs(twins["admin"], project))
    predictions = {int(p.id): f"<prediction {i}>" for i, t in enumerate(tasks) for p in twins["admin"].predictions.list(task=t)}
    return _Ids(project, f"twin-{n + 1}", tasks, predictions)


def test_what_an_annotator_sees_does_not_change_when_others_work(twins: dict[str, Any],
                                                                 studio_settings: StudioSettings) -> None:
    base = gateway_url(studio_settings)
    runs = []
    for n, between in ((0, lambda _: None), (1, _others(base, twins["pushed"][1].project_id, twins["tokens"]))):
        session = login(studio_settings, A)
        runs.append(_script(session, base, twins["pushed"][n].project_id, _ids(twins, n), between))
        session.get(f"{base}/user/logout/", timeout=30)
    alone, with_others = runs
    assert [s[0] for s in alone] == [s[0] for s in with_others]
    for quiet, busy in zip(alone, with_others, strict=True):
        assert quiet == busy, f"step {quiet[0]!r} differs when others work:\n{quiet}\n{busy}"
    # the run proves something only if the others really worked, and A's session really labelled
    admin, other = twins["admin"], twins["pushed"][1].project_id
    by_others = [a for t in _export(admin, other) for a in t["annotations"] if _author(a) != _user(admin, A)]
    assert len(by_others) >= 6 and any(a["was_cancelled"] for a in by_others)
    statuses = {label: status for label, status, _ in alone}
    assert statuses["submit"] == 201 and statuses["update"] == 200 and statuses["submit after cancel skip"] == 201


def test_the_loop_bookkeeping_never_reaches_the_screen(twins: dict[str, Any],
                                                       studio_settings: StudioSettings) -> None:
    """The audit task and the pre-filled one, seen by a fresh annotator of the first project:
    no meta, no bookkeeping in data, a model answer only where the loop pre-fills."""
    admin, pid = twins["admin"], twins["pushed"][0].project_id
    tasks = sorted(t for t, _ in api.list_task_refs(admin, pid))
    held = admin.tasks.get(str(tasks[AUDIT]))
    assert held.meta["loop_audit"] is True and "loop_audit" not in held.data  # in meta, for the administrator
    session = login(studio_settings, B)
    base = gateway_url(studio_settings)
    seen = {}
    while (handed := session.get(f"{base}/api/projects/{pid}/next", timeout=60)).status_code == 200:
        task = handed.json()
        seen[task["id"]] = task
        assert "meta" not in task and not any(k.startswith(("loop_", "srcrel_", "guidelines")) for k in task["data"])
        session.post(f"{base}/api/tasks/{task['id']}/annotations?project={pid}", timeout=60,
                     json={"result": choice("opinion"), "lead_time": 1.0})
    assert set(seen) == set(tasks)
    assert seen[tasks[AUDIT]]["predictions"] == []
    assert [p["result"][0]["value"]["choices"] for p in seen[tasks[PREFILLED]]["predictions"]] == [["unverifiable"]]
    assert all(seen[t]["predictions"] == [] for t in tasks if t != tasks[PREFILLED])


def _export(admin: Any, project_id: int) -> list[dict[str, Any]]:
    from io import BytesIO

    buffer = BytesIO()
    api.export_snapshot(admin, project_id, buffer, only_with_annotations=True, title="ni", timeout=120)
    return json.loads(buffer.getvalue())  # type: ignore[no-any-return]


def _author(annotation: dict[str, Any]) -> int:
    who = annotation["completed_by"]
    return int(who["id"] if isinstance(who, dict) else who)


def _user(admin: Any, email: str) -> int:
    return next(u.id for u in api.list_users(admin) if u.email == email)
