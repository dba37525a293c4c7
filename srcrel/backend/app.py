"""The backend's HTTP side, Label Studio's ML backend protocol on Starlette:

    GET  /health   {"status": "UP", "model_version", "training": {...}}
    POST /setup    {"model_version"}               (Label Studio reads the version it records here)
    POST /predict  {"tasks": [...]} -> {"results": [one prediction per task, in order]}
    POST /webhook  {"action": ...}                 (marks the model stale; never trains in the request)

With no model yet /predict answers {"results": []}: Label Studio logs it and stores no prediction
(ml/models.py _get_predictions_from_ml_backend), which is what "no opinion yet" should do.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from labeling.studio.interface import SPAN_LABEL, span_regions
from srcrel.backend.store import Served, Serving
from srcrel.backend.trainer import Trainer
from srcrel.loop.learner import pool_frame, score_frame

__all__ = ["RETRAIN_ACTIONS", "build_app", "predict_tasks"]

log = logging.getLogger(__name__)

# what Label Studio sends that changes the labels: START_TRAINING through its ML connector after
# each annotation saved (project.min_annotations_to_start_training), the others from a webhook
RETRAIN_ACTIONS = frozenset({"START_TRAINING", "ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED",
                             "ANNOTATIONS_DELETED"})
FROM_NAME, TO_NAME = "label", "sentence"  # labeling/studio/interface.py: <Choices name="label" toName="sentence">


def predict_tasks(served: Served, tasks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One prediction per task, in order: the most probable label and its probability, and on a
    sourced one the words the span tagger names as the source."""
    if not tasks:
        return []
    rows = [{**(task.get("data") or {}), "sentence_id": (task.get("data") or {}).get("sentence_id") or
             f"task-{task.get('id', i)}"} for i, task in enumerate(tasks)]
    frame = pool_frame(rows)
    frame.index = range(len(frame))  # sentence_ids may repeat in a request; order is what counts
    scored = score_frame(served.estimator, frame, served.labels)
    best = scored.proba.argmax(axis=1)
    sources: list[list[dict[str, Any]]] = [[] for _ in best]  # who is the source, on the sentences predicted sourced
    texts = [(i, str(r.get("sentence") or ""), str(r.get("lang") or "")) for i, r in enumerate(rows)
             if served.labels[best[i]] == SPAN_LABEL]
    if served.tagger is not None and texts:
        for (i, text, _), found in zip(texts, served.tagger.predict([t for _, t, _ in texts], [g for *_, g in texts])):
            sources[i] = span_regions([{"start": a, "end": b, "text": text[a:b]} for a, b in found], outside=False,
                                      origin="prediction")
    return [{"result": [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices",
                         "value": {"choices": [served.labels[j]]}}, *sources[i]],
             "score": round(float(scored.proba[i, j]), 6), "model_version": served.version}
            for i, j in enumerate(best)]


def build_app(serving: Serving, trainer: Trainer, *, project_id: int | None = None) -> Starlette:
    """The Starlette app; `project_id` (when known) makes events of other projects be ignored."""

    def version() -> str | None:
        served = serving.current()
        return served.version if served else None

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "UP", "model_class": "srcrel", "model_version": version(),
                             "training": asdict(trainer.status())})

    async def setup(_: Request) -> JSONResponse:
        return JSONResponse({"model_version": version()})

    async def predict(request: Request) -> JSONResponse:
        body = await _json(request)
        tasks = body.get("tasks") if isinstance(body, dict) else None
        if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
            return JSONResponse({"error": "expected {\"tasks\": [{\"id\": ..., \"data\": {...}}, ...]}"},
                                status_code=400)
        served = serving.current()  # one version for the whole request, even if a swap comes mid-way
        if served is None:
            return JSONResponse({"results": [], "model_version": None})
        results = await run_in_threadpool(predict_tasks, served, tasks)
        return JSONResponse({"results": results, "model_version": served.version})

    async def webhook(request: Request) -> JSONResponse:
        body = await _json(request)
        action = str(body.get("action", "")) if isinstance(body, dict) else ""
        project = body.get("project") if isinstance(body, dict) else None
        sender = project.get("id") if isinstance(project, dict) else None
        if action not in RETRAIN_ACTIONS:
            return JSONResponse({"status": "ignored", "action": action})
        if project_id is not None and sender is not None and int(sender) != project_id:
            return JSONResponse({"status": "ignored", "reason": f"project {sender} is not {project_id}"})
        trainer.notify()
        return JSONResponse({"status": "queued", "action": action})

    return Starlette(routes=[
        Route("/health", health, methods=["GET"]),
        Route("/", health, methods=["GET"]),
        Route("/setup", setup, methods=["POST"]),
        Route("/predict", predict, methods=["POST"]),
        Route("/webhook", webhook, methods=["POST"]),
    ])


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None
