"""The only module that imports label-studio-sdk: srcrel's calls to Label Studio, with SDK and
HTTP failures turned into one-line StudioErrors.

    client = connect(resolve_connection(settings))
    project = ensure_project(client, "news-2026", label_config=xml, instructions=html)
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, BinaryIO

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.core.request_options import RequestOptions
from label_studio_sdk.types import LseTaskFilterOptionsRequest, SerializationOptionsRequest

from labeling.studio.connection import Connection
from labeling.studio.records import (
    HandedTask,
    Marker,
    MLBackend,
    Project,
    TaskPrediction,
    User,
    error_detail,
    handed_task,
    ml_backend_record,
    project_record,
)
from labeling.studio.server import get_user_token, set_user_password  # re-exported: callers ask api
from srcrel_core.errors import StudioError

__all__ = [  # the records are re-exported: callers ask api
    "HandedTask", "MLBackend", "Marker", "Project", "TaskPrediction", "UncertainImport", "User", "annotate", "connect",
    "count_tasks", "create_marker", "create_user", "delete_project", "delete_tasks", "describe_server", "ensure_project",
    "export_snapshot", "find_project", "find_tasks", "get_user_token", "import_tasks", "list_markers",
    "list_ml_backends", "list_predictions", "list_task_refs", "list_users", "next_task", "register_ml_backend",
    "retrieve_predictions", "set_overlap", "set_user_password", "show_predictions", "studio_errors"]

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise in run logs


@contextmanager
def studio_errors(conn_url: str, what: str) -> Iterator[None]:
    """Turn SDK and transport failures into one StudioError line naming the fix."""
    try:
        yield
    except ApiError as exc:
        status, body = exc.status_code, exc.body
        if status == 401:
            raise StudioError(f"{what}: Label Studio at {conn_url} rejected the API token (401): check "
                              "LABEL_STUDIO_API_KEY, or the managed server's credentials.json") from exc
        text = error_detail(body)
        if text.lstrip().lower().startswith(("<!doctype", "<html")) or "<body" in text[:500].lower():
            raise StudioError(f"{what}: {conn_url} answered {status} with an HTML page, not Label Studio's "
                              "API: check LABEL_STUDIO_URL (the server's base URL, no path)") from exc
        raise StudioError(f"{what}: Label Studio answered {status}: {text[:400]}") from exc
    except httpx.TimeoutException as exc:
        raise StudioError(f"{what}: Label Studio at {conn_url} did not answer in time") from exc
    except httpx.TransportError as exc:
        raise StudioError(f"{what}: cannot reach Label Studio at {conn_url} ({type(exc).__name__}): "
                          "run `srcrel studio up`, or check LABEL_STUDIO_URL") from exc


def connect(conn: Connection, *, timeout: float = 60.0) -> LabelStudio:
    client = LabelStudio(base_url=conn.url, api_key=conn.api_key, timeout=timeout)
    with studio_errors(conn.url, "connecting"):
        client.users.whoami()
    return client


def _url(client: LabelStudio) -> str:
    return str(client._client_wrapper.get_base_url())


def describe_server(conn: Connection) -> tuple[str, tuple[str, ...], tuple[MLBackend, ...]]:
    """(version, project titles, every project's ML backends) of a running server."""
    client = connect(conn)
    with studio_errors(conn.url, "status"):
        version = client.versions.get().release or ""
        projects: Any = list(client.projects.list(page_size=100))
        backends = tuple(ml_backend_record(b) for p in projects for b in client.ml.list(project=p.id))
    return version, tuple(p.title or "" for p in projects), backends


def find_project(client: LabelStudio, name: str) -> Project | None:
    """The project titled exactly NAME; None if there is none, StudioError if there are several."""
    with studio_errors(_url(client), f"finding project {name!r}"):
        listed: Any = client.projects.list(title=name, page_size=100)
        hits = [p for p in listed if p.title == name]
        if len(hits) > 1:
            raise StudioError(f"{len(hits)} Label Studio projects are titled {name!r} (ids "
                              f"{[p.id for p in hits]}): rename or delete the extra ones")
        return project_record(client.projects.get(hits[0].id)) if hits else None


def ensure_project(client: LabelStudio, name: str, *, label_config: str, instructions: str,
                   description: str, show_skip_button: bool, maximum_annotations: int = 1) -> Project:
    """Create the project NAME, or update the one that exists: never a second one. Its label stream
    must not depend on others' work (docs/team-setup.md: why maximum_annotations stays 1)."""
    fields: dict[str, Any] = {
        "label_config": label_config, "expert_instruction": instructions, "show_instruction": True,
        "description": description, "overlap_cohort_percentage": 100, "show_skip_button": show_skip_button,
        "sampling": "Sequential sampling", "show_overlap_first": False, "skip_queue": "REQUEUE_FOR_OTHERS"}
    existing = find_project(client, name)
    with studio_errors(_url(client), f"{'updating' if existing else 'creating'} project {name!r}"):
        if existing is None:  # an older project keeps its maximum_annotations: a change resets task overlaps
            raw = client.projects.create(title=name, maximum_annotations=maximum_annotations, **fields)
            titled = [m.id for m in list_markers(client, name)]  # re-check: the title must stay unique
            if len(titled) > 1 and int(raw.id or 0) != titled[0]:
                log.warning("project %r was created twice at once (ids %s): keeping %d", name, titled, titled[0])
                client.projects.delete(int(raw.id or 0))
                client.projects.update(titled[0], **fields)
                return project_record(client.projects.get(titled[0]))
            return project_record(client.projects.get(int(raw.id or 0)))
        if any(existing.settings.get(k) != v for k, v in fields.items()):  # a no-op push writes nothing
            client.projects.update(existing.id, **fields)
            return project_record(client.projects.get(existing.id))
    return existing


def count_tasks(client: LabelStudio, project_id: int) -> int:
    with studio_errors(_url(client), "counting tasks"):
        return client.projects.get(project_id).task_number or 0


def _list(client: LabelStudio, project_id: int, items: list[dict[str, Any]], conjunction: str,
          page_size: int) -> list[Any]:
    query = json.dumps({"filters": {"conjunction": conjunction, "items": items}, "ordering": ["tasks:id"]})
    pager: Any = client.tasks.list(project=project_id, query=query, fields="task_only", include="id,data",
                              page_size=page_size)
    return list(pager.items or [])


def list_task_refs(client: LabelStudio, project_id: int, *, after_id: int = 0,
                   page_size: int = 10_000) -> list[tuple[int, str]]:
    """(task id, data.sentence_id) of the project's tasks with id > after_id, ascending, in
    pages filtered by id (a cursor: each request costs its page, not the whole project)."""
    refs: list[tuple[int, str]] = []
    with studio_errors(_url(client), "listing tasks"):
        while True:
            item = {"filter": "filter:tasks:id", "operator": "greater", "type": "Number", "value": after_id}
            page = _list(client, project_id, [item], "and", page_size)
            refs += [(t.id, str((t.data or {}).get("sentence_id", ""))) for t in page]
            if len(page) < page_size:
                return refs
            after_id = page[-1].id


def find_tasks(client: LabelStudio, project_id: int, sentence_ids: Sequence[str]) -> dict[str, list[int]]:
    """sentence_id -> task ids (normally one) for a few sentence_ids."""
    found: dict[str, list[int]] = {sid: [] for sid in sentence_ids}
    with studio_errors(_url(client), "finding tasks"):
        for start in range(0, len(sentence_ids), 100):
            items = [{"filter": "filter:tasks:data.sentence_id", "operator": "equal", "type": "String",
                      "value": sid} for sid in sentence_ids[start:start + 100]]
            for task in _list(client, project_id, items, "or", 10_000):
                sid = str((task.data or {}).get("sentence_id", ""))
                if sid in found:
                    found[sid].append(task.id)
    return found


class UncertainImport(StudioError):
    """An import request failed in a way that may or may not have created its tasks."""


def import_tasks(client: LabelStudio, project_id: int, tasks: list[dict[str, Any]], *,
                 timeout: float) -> list[int]:
    """One import request, never retried by the SDK; returns the new task ids in order.
    A time-out, a dropped connection or a 5xx raises UncertainImport: re-check, then re-send."""
    try:
        with studio_errors(_url(client), f"importing {len(tasks)} tasks"):
            response = client.projects.import_tasks(
                project_id, request=tasks, return_task_ids=True,  # type: ignore[arg-type]  # dicts are fine
                request_options=RequestOptions(max_retries=0, timeout=timeout))  # retries: see ledger.py
    except StudioError as exc:
        cause = exc.__cause__
        if isinstance(cause, httpx.TransportError) or (
                isinstance(cause, ApiError) and (cause.status_code or 500) >= 500):
            raise UncertainImport(str(exc)) from cause
        raise
    return list(getattr(response, "task_ids", None) or [])


_UNTOUCHED = {"conjunction": "and", "items": [  # no annotation, not even a skip
    {"filter": "filter:tasks:total_annotations", "operator": "equal", "type": "Number", "value": 0},
    {"filter": "filter:tasks:cancelled_annotations", "operator": "equal", "type": "Number", "value": 0}]}


def delete_tasks(client: LabelStudio, project_id: int, task_ids: Sequence[int]) -> list[int]:
    """Delete those of the given tasks that carry no annotation (not even a skip) with Label
    Studio's bulk action (one request per 5,000 ids, the filter applied by the server in the same
    query); returns the ids deleted."""
    ids = sorted(set(task_ids))
    with studio_errors(_url(client), "deleting duplicate tasks"):
        for start in range(0, len(ids), 5_000):
            client.actions.create(id="delete_tasks", project=project_id, filters=_UNTOUCHED,
                                  selected_items={"all": False, "included": ids[start:start + 5_000]})
        left: set[int] = set()
        for start in range(0, len(ids), 100):
            items = [{"filter": "filter:tasks:id", "operator": "equal", "type": "Number", "value": t}
                     for t in ids[start:start + 100]]
            left |= {t.id for t in _list(client, project_id, items, "or", 10_000)}
    return [t for t in ids if t not in left]


def set_overlap(client: LabelStudio, task_ids: Sequence[int], overlap: int,
                done: Callable[[int], None] = lambda _: None, *, recount: bool = False) -> None:
    """Set the per-task overlap the label stream honours (PATCH /api/tasks/ID). Label Studio does not
    recompute is_labeled then, so the same call sets it: closed once the task holds `overlap`
    answers (`recount`: read each task's count; else a fresh task, which holds at most one)."""
    def update(task_id: int) -> None:
        if recount:
            held = int(client.tasks.get(str(task_id)).total_annotations or 0)
            client.tasks.update(id=str(task_id), overlap=overlap, is_labeled=held >= overlap)
        elif overlap > 1:
            client.tasks.update(id=str(task_id), overlap=overlap, is_labeled=False)
        else:
            client.tasks.update(id=str(task_id), overlap=overlap)

    with studio_errors(_url(client), "setting task overlap"), ThreadPoolExecutor(4) as pool:
        # ~0.2 s each in Label Studio (it loads the task through the Data Manager's query): 4 at once
        futures = {pool.submit(update, task_id): task_id for task_id in task_ids}
        for future in as_completed(futures):
            future.result()
            done(futures[future])  # recorded by the caller's thread only


def create_marker(client: LabelStudio, title: str, holder: str) -> int:
    with studio_errors(_url(client), f"creating lock marker {title!r}"):
        raw = client.projects.create(title=title, description=holder, maximum_annotations=1)
    return int(raw.id or 0)


def list_markers(client: LabelStudio, title: str) -> list[Marker]:
    """The projects titled exactly TITLE, lowest id first."""
    with studio_errors(_url(client), f"listing lock markers {title!r}"):
        listed: Any = client.projects.list(title=title, page_size=100)
        hits = [Marker(p.id, p.description or "", str(p.created_at or "")) for p in listed if p.title == title]
    return sorted(hits, key=lambda m: m.id)


def delete_project(client: LabelStudio, project_id: int) -> None:
    with studio_errors(_url(client), f"deleting project {project_id}"):
        try:
            client.projects.delete(project_id)
        except ApiError as exc:
            if exc.status_code != 404:  # already gone is what we wanted
                raise


def export_snapshot(client: LabelStudio, project_id: int, out: BinaryIO, *, only_with_annotations: bool,
                    title: str, timeout: float) -> None:
    """Create a snapshot export with every annotation (skips, ground truth, all annotators;
    completed_by and predictions expanded), wait for it, and stream its bytes into OUT."""
    import time

    with studio_errors(_url(client), "exporting"):
        snap = client.projects.exports.create(
            project_id, title=title,
            task_filter_options=LseTaskFilterOptionsRequest(only_with_annotations=only_with_annotations),
            serialization_options=SerializationOptionsRequest.model_validate(
                {"predictions": {"only_id": False}, "annotations_completed_by": {"only_id": False}}),
            request_options=RequestOptions(timeout=timeout),  # Community builds the file right here
        )
        if snap.id is None:
            raise StudioError(f"Label Studio did not create an export of project {project_id}")
        deadline = time.monotonic() + timeout
        while (status := client.projects.exports.get(project_id, snap.id).status) != "completed":
            if status == "failed" or time.monotonic() > deadline:
                raise StudioError(f"export {snap.id} of project {project_id} {status or 'timed out'}: "
                                  "see the server log, or raise pull.timeout")
            time.sleep(1.0)
        for chunk in client.projects.exports.download(  # noqa: FURB122  (streamed: never all in memory)
                project_id, snap.id, export_type="JSON",
                request_options=RequestOptions(timeout=timeout, chunk_size=1 << 20)):
            out.write(chunk)


def list_users(client: LabelStudio) -> list[User]:
    with studio_errors(_url(client), "listing users"):
        return [User(id=u.id, email=u.email or "") for u in client.users.list()]


def create_user(client: LabelStudio, email: str) -> User:
    """Add EMAIL to the organisation (no password: see set_user_password); existing users are kept."""
    existing = {u.email: u for u in list_users(client)}
    if email in existing:
        return existing[email]
    with studio_errors(_url(client), f"creating user {email}"):
        raw = client.users.create(username=email.split("@")[0] + "-" + secrets.token_hex(3), email=email)
    return User(id=raw.id, email=raw.email or email)


def next_task(client: LabelStudio, project_id: int) -> HandedTask | None:
    """The label stream's next task for the client's own user; None when it has nothing left for
    this user (Label Studio answers 404). The SDK has no call for it."""
    with studio_errors(_url(client), f"asking the label stream of project {project_id}"):
        response = client._client_wrapper.httpx_client.request(
            f"api/projects/{project_id}/next/", method="GET", request_options=RequestOptions(max_retries=0))
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ApiError(status_code=response.status_code, headers=dict(response.headers), body=response.text)
        return handed_task(response.json())


def annotate(client: LabelStudio, task_id: int, *, from_name: str, to_name: str, choice: str | None, lead_time: float,
             prediction: tuple[int, str] | None = None, regions: Sequence[dict[str, Any]] = ()) -> int:
    """Submit one single-choice answer (None: a skip) and its `regions` (interface.span_regions) as the client's
    own user; returns its id. With the `prediction` (id, choice) pre-filled, the origin is what the screen records."""
    origin = "manual" if prediction is None else "prediction" if prediction[1] == choice else "prediction-changed"
    result = [] if choice is None else [{"from_name": from_name, "to_name": to_name, "type": "choices",
                                         "origin": origin, "value": {"choices": [choice]}}, *regions]
    extra: dict[str, Any] = {} if prediction is None else {"parent_prediction": prediction[0]}
    with studio_errors(_url(client), f"annotating task {task_id}"):
        created = client.annotations.create(task_id, result=result, lead_time=lead_time,
                                            was_cancelled=choice is None,
                                            request_options=RequestOptions(max_retries=0), **extra)
    return int(created.id or 0)


def show_predictions(client: LabelStudio, project_id: int, model_version: str) -> None:
    """Pre-fill the label stream with MODEL_VERSION's predictions (it hands out only the project's
    model_version, else the first imported: tasks/models.py get_predictions_for_prelabeling)."""
    with studio_errors(_url(client), f"setting the model version of project {project_id}"):
        client.projects.update(project_id, model_version=model_version, show_collab_predictions=True)


# --- ML backends (srcrel backend): Label Studio calls them itself, through its ML connector
# (ML_BLOCK_LOCAL_IP); docs/team-setup.md and README's `srcrel backend` say when and why ---

def list_ml_backends(client: LabelStudio, project_id: int) -> list[MLBackend]:
    """The project's ML backends (Label Studio health-checks each one while answering)."""
    with studio_errors(_url(client), f"listing the ML backends of project {project_id}"):
        return [ml_backend_record(raw) for raw in client.ml.list(project=project_id)]


def register_ml_backend(client: LabelStudio, project_id: int, *, url: str, title: str,
                        preannotate: bool) -> tuple[MLBackend, list[MLBackend]]:
    """Connect the (already serving) backend at URL to the project or keep the one there, have Label
    Studio send START_TRAINING on every annotation saved, and turn pre-annotation on or off.
    Returns the backend and the project's other backends, for the caller to report."""
    url = url.rstrip("/")
    existing = list_ml_backends(client, project_id)
    others = [b for b in existing if b.url != url]
    with studio_errors(_url(client), f"registering the ML backend {url} on project {project_id}"):
        # pre-annotation off also clears project.model_version (projects/serializers.py update)
        client.projects.update(project_id, show_collab_predictions=preannotate, min_annotations_to_start_training=1)
        mine = next((b for b in existing if b.url == url), None)
        try:
            backend_id = (client.ml.update(mine.id, title=title, auto_update=True) if mine else
                          client.ml.create(project=project_id, url=url, title=title, auto_update=True,
                                           is_interactive=False)).id
        except ApiError as exc:
            if exc.status_code != 403 or "reserved network address" not in str(exc.body):
                raise
            backend_id = _created_despite_webhook_refusal(client, project_id, url, exc)
        if preannotate:  # the title, not a version: the label stream then asks the live backend
            client.projects.update(project_id, model_version=title)  # (get_predictions_for_prelabeling)
        saved = client.ml.get(int(backend_id or 0))  # GET runs Label Studio's health check and /setup again
    return ml_backend_record(saved), others


def _created_despite_webhook_refusal(client: LabelStudio, project_id: int, url: str, exc: ApiError) -> int | None:
    """Label Studio 1.23 saves a new backend, then its extra webhook to URL/webhook is refused (403,
    SSRF protection, loopback; ml/models.py create_ml_webhook): the backend is there. Else: real."""
    hit = next((b for b in list_ml_backends(client, project_id) if b.url == url), None)
    if hit is None:  # refused before saving: the ML connector's own check (ML_BLOCK_LOCAL_IP) is on
        raise StudioError(f"Label Studio refuses the loopback ML backend {url}: it must run with "
                          "ML_BLOCK_LOCAL_IP=false (srcrel's managed server does: `srcrel studio down` then "
                          "`srcrel studio up`; an external server needs it in its environment)") from exc
    return hit.id


def retrieve_predictions(client: LabelStudio, project_id: int, task_ids: Sequence[int]) -> None:
    """Ask the project's ML backend for predictions on these tasks now (Data Manager action
    `retrieve_tasks_predictions`; tasks holding the backend's current version are skipped)."""
    with studio_errors(_url(client), f"retrieving predictions for {len(task_ids)} tasks"):
        client.actions.create(id="retrieve_tasks_predictions", project=project_id,
                              selected_items={"all": False, "included": list(task_ids)})


def list_predictions(client: LabelStudio, task_id: int) -> list[TaskPrediction]:
    """Every prediction stored on a task, whatever its model version (GET /api/predictions?task=)."""
    with studio_errors(_url(client), f"listing the predictions of task {task_id}"):
        raws = client.predictions.list(task=task_id)
    return [TaskPrediction(task_id=task_id, model_version=str(raw.model_version or ""), score=raw.score,
                           choices=tuple(c for r in raw.result or [] if isinstance(r, dict)
                                         for c in (r.get("value") or {}).get("choices") or []))
            for raw in raws]
