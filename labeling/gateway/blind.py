"""Responses made blind. Each record an annotator receives is rebuilt from an allow-list of keys,
so that it is a function of the tasks and of the requester's own actions only, never of what
other annotators do (tests/labeling/gateway/test_noninterference.py proves it call by call): no
one else's answers, drafts, counts, timestamps, last editor or queue; task data limited to the
variables the labeling screen shows (bookkeeping such as `srcrel_overlap` or the loop's audit
flag never reaches it, wherever it is kept); predictions only where the loop pre-fills on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["ML_BACKEND_KEYS", "PREDICTIONS_ON", "PROJECT_KEYS", "blind_columns", "blind_item", "blind_project", "blind_task",
           "config_variables", "is_owner", "prefilled"]

# what the screen needs of a project: its interface and guidelines; not the counts over everyone's
# work (queue_total falls as others finish: it becomes the project's task count), nor credentials
PROJECT_KEYS = frozenset({"id", "title", "description", "label_config", "parsed_label_config", "expert_instruction",
                          "show_instruction", "show_skip_button", "enable_empty_annotation", "show_annotation_history",
                          "color", "config_has_control_tags", "task_count", "task_number", "maximum_annotations",
                          "sampling", "show_collab_predictions", "is_published", "is_draft", "created_at", "skip_queue",
                          "reveal_preannotations_interactively", "show_ground_truth_first", "show_overlap_first",
                          "allow_stream", "require_comment_on_skip", "show_comments", "model_version",
                          "annotator_evaluation_enabled", "custom_task_lock_ttl"})

# what the labeling screen reads of a project's ML backends (is one interactive?); not its URL,
# error text (a traceback), auth user, timeout or extra params
ML_BACKEND_KEYS = frozenset({"id", "project", "title", "state", "readable_state", "is_interactive", "model_version"})

# a task: no annotator lists, counts of answers or skips, comments, last editor, lead times,
# timestamps (updated_at moves when anyone answers), queue name (says whether someone started
# it) or meta (the loop's bookkeeping)
TASK_KEYS = frozenset({"id", "data", "project", "inner_id", "annotations", "drafts", "predictions",
                       "unique_lock_id", "allow_postpone"})
# one's own answer or draft, as the editor shows it
ITEM_KEYS = frozenset({"id", "result", "was_cancelled", "ground_truth", "lead_time", "created_at", "updated_at",
                       "completed_by", "task", "project", "draft_created_at", "parent_prediction", "unique_id",
                       "user", "created_username", "created_ago", "was_postponed", "annotation", "started_at"})
PREDICTION_KEYS = frozenset({"id", "result", "score", "model_version", "task"})
_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# in the set of keys a project's screen shows: the project shows predictions (Label Studio's
# show_collab_predictions); no task data key can be this
PREDICTIONS_ON = "\x00show_collab_predictions"


def config_variables(label_config: str) -> frozenset[str]:
    """The task data keys a labeling config shows ($sentence, $prev_sentence, ...)."""
    return frozenset(_VARIABLE.findall(label_config or ""))


def blind_project(project: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in project.items() if k in PROJECT_KEYS}
    count = project.get("task_number") or project.get("task_count")  # Label Studio fills one or the other
    if isinstance(count, int):
        out["queue_total"] = count
    return out


def blind_item(item: Any, keys: frozenset[str] = ITEM_KEYS) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k in keys} if isinstance(item, dict) else {}


def blind_task(task: dict[str, Any], user_id: int, email: str, shown: Iterable[str]) -> dict[str, Any]:
    """A task as its requester may see it: the data the screen shows, their own answers and
    drafts, and the model's answer only on a task the loop pre-fills."""
    out = {k: v for k, v in task.items() if k in TASK_KEYS}
    if isinstance(out.get("data"), dict):
        keep = {*shown, "sentence_id"}  # the sentence's own id: what a scripted annotator answers by
        out["data"] = {k: v for k, v in out["data"].items() if k in keep}
    predictions = out.get("predictions")
    out["predictions"] = [blind_item(p, PREDICTION_KEYS) for p in predictions] \
        if isinstance(predictions, list) and prefilled(task, project_shows=PREDICTIONS_ON in shown) else []
    for key in ("annotations", "drafts"):
        if isinstance(out.get(key), list):
            out[key] = [blind_item(a) for a in out[key] if is_owner(a, user_id, email)]
    return out


def prefilled(task: dict[str, Any], *, project_shows: bool) -> bool:
    """Whether an annotator may see a task's predictions. A task of `srcrel loop` says so in its
    meta (`loop_prefilled`: never the audit sample, never the anchoring check's control group;
    older projects kept it in data); on any other task, the project's pre-annotation setting
    (Label Studio's show_collab_predictions, which `srcrel backend preannotate=` sets) decides."""
    for where in ("meta", "data"):
        record = task.get(where)
        if isinstance(record, dict) and "loop_prefilled" in record:
            return record["loop_prefilled"] is True
    return project_shows


def blind_columns(columns: Any, shown: Iterable[str]) -> Any:
    """The Data Manager's columns: the task id and the data the screen shows, nothing about
    answers (annotators, counts, results, lead times, last editor) and no bookkeeping data column.
    A data column is dropped from the `data` group's children too, or the grid fails to resolve it."""
    if not isinstance(columns, dict) or not isinstance(columns.get("columns"), list):
        return {"columns": []}
    keep = {key for key in shown if not key.startswith("ui_")}  # the screen's own words are no column
    kept = []
    for col in columns["columns"]:
        if not isinstance(col, dict):
            continue
        if col.get("parent") == "data" and col.get("id") in keep or col.get("parent") is None and col.get("id") in ("id", "inner_id"):
            kept.append(col)
        elif col.get("parent") is None and col.get("id") == "data":
            kept.append({**col, "children": [c for c in col.get("children") or [] if c in keep]})
    return {"columns": kept}


def is_owner(item: Any, user_id: int, email: str = "") -> bool:
    """Whether an annotation or draft is the requester's: Label Studio names an annotation's
    author by id (or {id, email}) and a draft's by email."""
    if not isinstance(item, dict):
        return False
    who = item.get("completed_by", item.get("user"))
    if isinstance(who, dict):
        who = who.get("id", who.get("email"))
    if isinstance(who, bool):
        return False
    if isinstance(who, int):
        return who == user_id
    if isinstance(who, str):
        return (who.isdigit() and int(who) == user_id) or (bool(email) and who.lower() == email.lower())
    return False
