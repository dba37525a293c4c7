"""Parse a raw Label Studio JSON snapshot (saved by `srcrel pull`) into srcrel's long table.

The export is streamed with ijson (it can be GBs). Every annotation in it is accounted for:
kept, or dropped with one reason, and `exported == kept + sum(dropped)` is checked.

Shape read (Label Studio 1.23 JSON snapshot, see docs/notes):
    [{"id": 7, "data": {"sentence_id": "a1-0003", "article_id": "a1", "sentence": "...", ...},
      "annotations": [{"id": 12, "completed_by": 3 | {"id": 3, ...}, "was_cancelled": false,
                       "ground_truth": false, "lead_time": 4.2, "created_at": "2026-...Z",
                       "result": [{"type": "choices", "from_name": "label",
                                   "value": {"choices": ["opinion"]}, "origin": "manual"}]}]}]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import ijson
import numpy as np
import orjson
import pandas as pd

from labeling.annotations.choices import SOURCE_OUTSIDE
from srcrel_core.errors import ExportError, InputError
from srcrel_core.io import read_label_records

__all__ = [
    "DROP_REASONS",
    "SOURCE_OUTSIDE",
    "DropReason",
    "ParsedExport",
    "Reconciliation",
    "parse_export",
    "read_controls",
]

DropReason = Literal["cancelled", "ground_truth", "empty_result", "multiple_labels",
                     "unknown_label", "superseded", "over_overlap"]
# over_overlap: only with `build overlap_answers=first` (labeling/annotations/overlap.py)
DROP_REASONS: tuple[DropReason, ...] = ("cancelled", "ground_truth", "empty_result",
                                        "multiple_labels", "unknown_label", "superseded", "over_overlap")
# srcrel_overlap: the annotators push asked for (project.maximum_annotations, or 1 outside the
# overlap sample); guidelines_version stays last (see parse_export)
# loop_*: what `srcrel loop next` recorded when it chose the sentence (srcrel/loop/run.py)
# all of these are read from the task's meta, where srcrel keeps its bookkeeping, then from data
_TASK_FIELDS = {"article_id": "article_id", "sentence": "text", "prev_sentence": "prev_text",
                "next_sentence": "next_text", "lang": "lang", "title": "title",
                "srcrel_overlap": "overlap", "loop_round": "round", "loop_audit": "audit",
                "loop_strategy": "strategy", "loop_prefilled": "prefilled",
                "loop_model_label": "model_label", "loop_model_spans": "model_spans",
                "guidelines_version": "guidelines_version"}


@dataclass(frozen=True)
class Reconciliation:
    exported: int
    kept: int
    dropped: dict[str, int]

    @property
    def balanced(self) -> bool:
        return self.exported == self.kept + sum(self.dropped.values())


@dataclass(frozen=True)
class ParsedExport:
    path: Path
    sha256: str
    n_tasks: int
    annotations: pd.DataFrame  # task, worker, label, source_spans, source_outside, lead_time, origin, ...
    dropped: pd.DataFrame  # annotation_id, task, worker, raw_label, reason
    tasks: pd.DataFrame  # index sentence_id: article_id, text, prev_text, next_text, lang, ...
    ground_truth: pd.Series  # task -> label of ground-truth annotations (reference only)
    reconciliation: Reconciliation


class _CountingReader:
    """File wrapper that hashes and counts what the parser has consumed, for error positions."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.offset, self.lines = raw, 0, 1
        self.sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.offset += len(chunk)
        self.lines += chunk.count(b"\n")
        self.sha.update(chunk)
        return chunk


def _worker_id(completed_by: Any) -> str | None:
    # an id only: emails and names are personal data and must not reach the dataset
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("id")
    return None if completed_by is None else str(completed_by)


def _choices_and_spans(result: Any, from_name: str) -> tuple[list[str], str, list[dict[str, Any]], bool]:
    """The label choice(s), their origin, the source spans and the "source is outside" tick."""
    if isinstance(result, list) and len(result) == 1:  # fast path: one choice, the usual answer
        region = result[0]
        if (isinstance(region, dict) and region.get("type") == "choices"
                and region.get("from_name", from_name) == from_name):
            chosen = (region.get("value") or {}).get("choices") or []
            return [str(c) for c in chosen], str(region.get("origin") or "manual"), [], False
    choices: list[str] = []
    origin = "manual"
    spans: list[dict[str, Any]] = []
    outside = False
    for region in result if isinstance(result, list) else []:
        if not isinstance(region, dict):
            continue
        value = region.get("value") or {}
        if region.get("type") == "choices" and region.get("from_name", from_name) == from_name:
            choices.extend(str(c) for c in value.get("choices") or [])
            origin = str(region.get("origin") or "manual")
        elif region.get("type") == "choices" and region.get("from_name") == SOURCE_OUTSIDE:
            outside = bool(value.get("choices"))
        elif region.get("type") == "labels" and "start" in value:
            spans.append({"start": int(value["start"]), "end": int(value["end"]),
                          "text": str(value.get("text", ""))})
    return choices, origin, spans, outside


def _fail(path: Path, reader: _CountingReader, what: str) -> ExportError:
    return ExportError(f"{path}: {what} near byte {reader.offset} (line {reader.lines}); "
                       "re-download it with `srcrel pull` (the file is not a complete Label Studio "
                       "JSON export)")


def parse_export(
    path: str | Path,
    *,
    label_names: Sequence[str],
    controls: pd.Series | None = None,
    from_name: str = "label",
) -> ParsedExport:
    """Stream `path` into the long table; labels outside `label_names` are dropped, not kept."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"export {path} not found; pass export=FILE saved by `srcrel pull`")
    allowed = set(label_names)
    control_ids = set() if controls is None else set(controls.index)
    # strings become small integer codes while streaming: 1M Python strings cost seconds in pandas
    task_codes: dict[str, int] = {}
    codes: dict[str, dict[str, int]] = {"worker": {}, "label": {}, "origin": {}, "version": {}}
    rows: list[tuple[Any, ...]] = []
    dropped: list[tuple[Any, ...]] = []
    tasks: dict[str, tuple[str, ...]] = {}
    exported = n_tasks = 0
    with path.open("rb") as raw:
        reader = _CountingReader(raw)
        head = raw.read(1)
        while head.isspace():
            head = raw.read(1)
        if head != b"[":
            found = "an empty file" if not head else f"{head.decode('latin-1')!r}"
            raise ExportError(f"{path}: expected a JSON list of tasks, found {found} at byte "
                              f"{max(raw.tell() - 1, 0)}; pass the raw JSON snapshot saved by "
                              "`srcrel pull`")
        raw.seek(0)
        try:
            for task in ijson.items(reader, "item", use_float=True, buf_size=1 << 16):
                n_tasks += 1
                data = task.get("data") if isinstance(task, dict) else None
                if not isinstance(data, dict) or data.get("sentence_id") in (None, ""):
                    ls_id = task.get("id", "?") if isinstance(task, dict) else "?"
                    raise _fail(path, reader, f"task #{n_tasks} (id {ls_id}) has no data.sentence_id")
                sid = str(data["sentence_id"])
                if sid not in tasks:  # srcrel's bookkeeping is in meta (older projects: in data)
                    meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
                    tasks[sid] = tuple([_task_value(meta[k] if k in meta else data.get(k)) for k in _TASK_FIELDS])
                    task_codes[sid] = len(task_codes)
                version = codes["version"].setdefault(tasks[sid][-1], len(codes["version"]))
                task_code, is_control = task_codes[sid], sid in control_ids
                for ann in task.get("annotations") or []:
                    exported += 1
                    worker = _worker_id(ann.get("completed_by")) or ""
                    choices, origin, spans, outside = _choices_and_spans(ann.get("result"), from_name)
                    raw_label = choices[0] if len(choices) == 1 else "|".join(choices)
                    reason: DropReason | None = None
                    if ann.get("was_cancelled"):
                        reason = "cancelled"
                    elif not choices:
                        reason = "empty_result"
                    elif len(choices) > 1:
                        reason = "multiple_labels"
                    elif raw_label not in allowed:
                        reason = "unknown_label"
                    elif ann.get("ground_truth"):
                        reason = "ground_truth"
                    if reason is not None:
                        dropped.append((ann.get("id"), sid, worker, raw_label, reason))
                        continue
                    rows.append((ann.get("id"), task_code,
                                 codes["worker"].setdefault(worker, len(codes["worker"])),
                                 codes["label"].setdefault(raw_label, len(codes["label"])),
                                 spans or None, outside, ann.get("lead_time"), ann.get("created_at"),
                                 codes["origin"].setdefault(origin, len(codes["origin"])),
                                 version, is_control, task.get("id")))
        except ijson.IncompleteJSONError as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            what = ("truncated JSON" if "premature EOF" in detail or not detail
                    else f"malformed JSON ({detail})")
            raise _fail(path, reader, what) from exc
        except ijson.JSONError as exc:
            raise _fail(path, reader, f"malformed JSON ({str(exc).splitlines()[0]})") from exc
        except (AttributeError, TypeError, ValueError) as exc:
            raise _fail(path, reader, f"unexpected task shape ({exc})") from exc
        if reader.read(1 << 16).strip():
            raise _fail(path, reader, "trailing data after the task list")
    sha = reader.sha.hexdigest()
    _check_sidecar(path, sha)

    table = pd.DataFrame(rows, columns=["annotation_id", "task", "worker", "label", "source_spans",
                                        "source_outside", "lead_time", "created_at", "origin", "guidelines_version",
                                        "is_control", "ls_task_id"])
    del rows
    table["task"] = _categorical(table["task"], task_codes)
    for column, key in (("worker", "worker"), ("label", "label"), ("origin", "origin"),
                        ("guidelines_version", "version")):
        table[column] = _categorical(table[column], codes[key])
    table["lead_time"] = pd.to_numeric(table["lead_time"], errors="coerce").astype("float64")
    table["created_at"] = pd.to_datetime(table["created_at"], utc=True, format="ISO8601",
                                         errors="coerce")
    # the same annotator on the same sentence twice (re-import, API edit): the latest one counts
    repeated = table[table.duplicated(["task", "worker"], keep=False)]
    latest_last = repeated.sort_values(["task", "worker", "created_at", "annotation_id"],
                                       kind="stable", na_position="first")
    superseded = table.index.isin(
        latest_last.index[latest_last.duplicated(["task", "worker"], keep="last")])
    drop_frame = pd.DataFrame(dropped, columns=["annotation_id", "task", "worker", "raw_label",
                                                "reason"])
    if superseded.any():
        extra = table.loc[superseded, ["annotation_id", "task", "worker", "label"]].rename(
            columns={"label": "raw_label"}).assign(reason="superseded")
        drop_frame = pd.concat([drop_frame, extra], ignore_index=True)
    table = table.loc[~superseded].reset_index(drop=True)
    for column in ("task", "worker", "label", "origin", "guidelines_version"):
        table[column] = table[column].cat.remove_unused_categories()

    gt = drop_frame[drop_frame["reason"] == "ground_truth"].drop_duplicates("task", keep="last")
    counts = drop_frame["reason"].value_counts()
    reconciliation = Reconciliation(exported=exported, kept=len(table),
                                    dropped={r: int(counts.get(r, 0)) for r in DROP_REASONS})
    if not reconciliation.balanced:  # a bug, not a user error
        raise RuntimeError(f"reconciliation does not balance: {reconciliation}")
    task_frame = pd.DataFrame.from_dict(tasks, orient="index", columns=list(_TASK_FIELDS.values()))
    task_frame.index.name = "sentence_id"
    return ParsedExport(path=path, sha256=sha, n_tasks=n_tasks, annotations=table,
                        dropped=drop_frame, tasks=task_frame,
                        ground_truth=pd.Series(gt["raw_label"].to_numpy(), index=gt["task"].to_numpy(),
                                               name="label", dtype="object"),
                        reconciliation=reconciliation)


def _task_value(value: Any) -> str:
    """A task field as text: missing is "", a flag "true"/"false", round 0 stays "0"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _categorical(values: pd.Series, names: dict[str, int]) -> pd.Series:
    """Integer codes -> a categorical whose categories are sorted (stable order downstream)."""
    categories = np.array(list(names), dtype=object)
    order = np.argsort(categories, kind="stable")
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    remapped = position[values.to_numpy(dtype=np.int64)] if len(values) else values.to_numpy(dtype=np.int64)
    return pd.Series(pd.Categorical.from_codes(remapped, categories=categories[order]), index=values.index)


def _check_sidecar(path: Path, sha: str) -> None:
    sidecar = path.with_name(path.name + ".meta.json")
    if not sidecar.is_file():
        return
    try:
        recorded = orjson.loads(sidecar.read_bytes()).get("sha256")
    except (orjson.JSONDecodeError, AttributeError) as exc:
        raise ExportError(f"{sidecar}: unreadable sidecar ({exc}); delete it or re-run `srcrel pull`") from exc
    if recorded and recorded != sha:
        raise ExportError(f"{path}: sha256 {sha[:12]}… differs from {sidecar.name} ({str(recorded)[:12]}…): "
                          "the export changed after `srcrel pull`; pull again")


def read_controls(path: str | Path, *, label_names: Sequence[str]) -> pd.Series:
    """Control answers kept outside Label Studio: JSONL {sentence_id, label} -> Series by task."""
    records = read_label_records(path, label_names=label_names, what="controls file",
                                 fix="pass controls=PATH to the controls.jsonl that push wrote, or controls=null")
    answers = {r.sentence_id: r.label for r in records}
    return pd.Series(answers, name="label", dtype="object").rename_axis("task")
