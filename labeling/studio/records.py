"""What srcrel reads back from Label Studio, as plain frozen records (labeling/studio/api.py
fills them from the SDK's objects; everything else in srcrel speaks these)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["HandedTask", "MLBackend", "Marker", "Project", "TaskPrediction", "User", "error_detail", "handed_task",
           "ml_backend_record", "project_record"]


@dataclass(frozen=True)
class Project:
    id: int
    title: str
    task_count: int
    settings: dict[str, Any]  # label_config, description, maximum_annotations, ...
    answers: int = 0  # annotations held, skips included


@dataclass(frozen=True)
class User:
    id: int
    email: str

@dataclass(frozen=True)
class Marker:
    """A project used only as a lock marker (srcrel's push lock): its id orders the contenders."""

    id: int
    holder: str
    created_at: str


@dataclass(frozen=True)
class HandedTask:
    """A task the label stream hands out: its id, sentence, data, and the prediction shown
    pre-filled (id and choice; None when the task has none, or the gateway hid it)."""

    id: int
    sentence_id: str
    data: dict[str, Any]
    prediction: tuple[int, str] | None
    prediction_spans: tuple[dict[str, Any], ...] = ()  # who is the source, pre-filled with the prediction


@dataclass(frozen=True)
class MLBackend:
    id: int
    project_id: int
    url: str
    title: str
    state: str  # Label Studio's readable state: Connected, Disconnected, Error, Training, Predicting
    model_version: str
    error: str


@dataclass(frozen=True)
class TaskPrediction:
    task_id: int
    model_version: str
    score: float | None
    choices: tuple[str, ...]


def handed_task(task: dict[str, Any]) -> HandedTask:
    """The label stream's JSON for one task -> a HandedTask (the last choice prediction is the one
    the labeling screen pre-fills)."""
    data = task.get("data") or {}
    shown: tuple[int, str] | None = None
    spans: tuple[dict[str, Any], ...] = ()
    for prediction in task.get("predictions") or []:
        for region in prediction.get("result") or []:
            value = region.get("value") or {}
            choices = value.get("choices") or []
            if region.get("type") == "choices" and region.get("from_name", "label") == "label" and choices \
                    and prediction.get("id") is not None:
                shown = (int(prediction["id"]), str(choices[0]))
                spans = tuple(_span(r.get("value") or {}) for r in prediction.get("result") or []
                              if r.get("type") == "labels" and {"start", "end", "text"} <= set(r.get("value") or {}))
    return HandedTask(int(task["id"]), str(data.get("sentence_id", "")), data, shown, spans)


def _span(value: dict[str, Any]) -> dict[str, Any]:
    return {"start": int(value["start"]), "end": int(value["end"]), "text": str(value["text"])}


def project_record(raw: Any) -> Project:
    keys = ("label_config", "description", "expert_instruction", "maximum_annotations",
            "overlap_cohort_percentage", "show_skip_button", "show_instruction", "created_at", "sampling",
            "show_overlap_first", "skip_queue")
    settings = {k: getattr(raw, k, None) for k in keys}
    for key in ("sampling", "skip_queue"):  # the SDK's enums, as the plain strings Label Studio stores
        settings[key] = getattr(settings[key], "value", settings[key])
    settings["created_at"] = str(settings["created_at"] or "")
    answers = int(getattr(raw, "total_annotations_number", 0) or 0) + int(getattr(raw, "skipped_annotations_number", 0) or 0)
    return Project(id=raw.id, title=raw.title, task_count=raw.task_number or 0, settings=settings, answers=answers)


def ml_backend_record(raw: Any) -> MLBackend:
    return MLBackend(id=int(raw.id or 0), project_id=int(raw.project), url=str(raw.url).rstrip("/"),
                     title=str(raw.title or ""), state=str(raw.readable_state or ""),
                     model_version=str(raw.model_version or ""), error=str(raw.error_message or ""))


def error_detail(body: Any) -> str:
    """An error answer's reason on one line: the validation errors, else `detail`, else the body."""
    detail = body
    if isinstance(body, dict):  # prefer the server's reason over its generic "Validation error"
        errors = body.get("validation_errors") or {}
        detail = "; ".join(f"{k}: {' '.join(map(str, v if isinstance(v, list) else [v]))}"
                           for k, v in errors.items()) if isinstance(errors, dict) and errors else (
            body.get("detail") or body)
    return " ".join(str(detail).split())
