"""`srcrel push input=DIR project.name=NAME`: create or update the Label Studio project NAME
(interface from the label set, instructions from the guidelines, overlap, annotator accounts),
choose control sentences, and import the tasks it does not hold yet (see labeling/ledger.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from labeling.studio import api
from labeling.studio.accounts import check_annotators, create_annotators
from labeling.studio.changes import (
    PushedSettings,
    check_changes,
    describe,
    overlap_changed,
    project_changes,
    recorded,
)
from labeling.studio.config import PushConfig
from labeling.studio.connection import resolve_connection
from labeling.studio.context import add_context
from labeling.studio.guidelines import guideline_quotes, quoting_line, read_guidelines
from labeling.studio.interface import TASK_FIELDS, build_label_config
from labeling.studio.ledger import (
    claim_state,
    import_missing,
    open_ledger,
    reconcile,
    state_dir_for,
)
from labeling.studio.lock import project_lock
from labeling.studio.screen_text import check_language, screen_fields
from srcrel_core.errors import ConfigError, InputError
from srcrel_core.io import atomic_write, read_label_records
from srcrel_core.labelset import LabelSet, load_label_set
from srcrel_core.progress import check_progress_mode, progress_bar
from srcrel_core.settings import to_dataclass

__all__ = ["PushResult", "push_tasks", "read_meta", "read_predictions", "read_tasks", "run_from_config"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushResult:
    project_id: int
    project_created: bool
    url: str
    total: int  # sentences in the input
    imported: int  # tasks created by this run
    overlapped: int  # sentences of the input in the overlap sample (project.maximum_annotations each)
    duplicates_removed: int
    guidelines_version: str
    controls_path: Path | None
    annotator_files: tuple[Path, ...]
    changes: tuple[str, ...] = ()  # settings this push changed on an existing project


def read_meta(path: Path, raw: bytes) -> dict[str, dict[str, Any]]:
    """sentence_id -> the `meta` a tasks.json item carries (the loop's bookkeeping: round,
    strategy, audit, model answer), kept in Label Studio's task meta, which annotators never see."""
    if b'"meta"' not in raw:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(orjson.loads(raw)):
        meta = item.get("meta")
        if meta is None:
            continue
        if not isinstance(meta, dict):
            raise InputError(f"{path}: task {i} has a meta that is not an object: fix or drop it")
        out[str(item["data"]["sentence_id"])] = meta
    return out


def read_predictions(path: Path, raw: bytes) -> dict[str, list[dict[str, Any]]]:
    """sentence_id -> the `predictions` a tasks.json item carries (Label Studio's import format:
    [{model_version, score, result: [...]}]), written by `srcrel loop next loop.preannotate=true`."""
    if b'"predictions"' not in raw:  # ingest output never has any: skip the second parse
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for i, item in enumerate(orjson.loads(raw)):
        predictions = item.get("predictions")
        if predictions is None:
            continue
        if not isinstance(predictions, list) or not all(
                isinstance(p, dict) and isinstance(p.get("result"), list) for p in predictions):
            raise InputError(f"{path}: task {i} has predictions that are not a list of {{model_version, score, "
                             "result: [...]}}: fix or drop them")
        out[str(item["data"]["sentence_id"])] = predictions
    return out


def read_tasks(input_dir: Path) -> tuple[list[dict[str, Any]], bytes]:
    """The `data` objects of DIR/tasks.json (an ingest output dir) and the file's bytes."""
    path = input_dir / "tasks.json"
    if not path.is_file():
        raise InputError(f"{path} not found: input= must be an ingest output dir (run `srcrel ingest`)")
    raw = path.read_bytes()
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc}): re-run `srcrel ingest`") from exc
    if not isinstance(items, list):
        raise InputError(f"{path} must hold a JSON list of {{\"data\": {{...}}}}: re-run `srcrel ingest`")
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        data = item.get("data") if isinstance(item, dict) else None
        sid = data.get("sentence_id") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(sid, str) or not sid:
            raise InputError(f"{path}: task {i} has no data.sentence_id: re-run `srcrel ingest`")
        if sid in seen:
            raise InputError(f"{path}: task {i} repeats sentence_id {sid!r}: re-run `srcrel ingest`")
        seen.add(sid)
        rows.append({**data, **{f: data.get(f) or "" for f in TASK_FIELDS}})  # LS rejects a missing $var
    return rows, raw


def _choose_controls(sentence_ids: list[str], reference: str, fraction: float, seed: int,
                     label_set: LabelSet, texts: dict[str, str], guidelines: Path) -> list[dict[str, str]]:
    """A deterministic sample of FRACTION of the sentences among those the reference labels.
    A sentence the guidelines quote as an example can never be one: the reference must not
    offer it (one line names it and the guidelines line)."""
    if fraction <= 0:
        return []
    if not reference:
        raise ConfigError("controls.fraction > 0 needs controls.reference=FILE (JSONL {sentence_id, label})")
    by_text = {text: sid for sid, text in texts.items()}
    quotes = guideline_quotes(guidelines)
    known: dict[str, str] = {}
    for record in read_label_records(reference, label_names=label_set.names, what="controls.reference",
                                     fix="give a JSONL of {sentence_id, label} (or {text, label}) with "
                                         f"labels of label set {label_set.name}", allow_text=True):
        sid = record.sentence_id or by_text.get(record.text, "")
        if sid not in texts:
            continue
        line = quoting_line(texts[sid], quotes)
        if line is not None:
            raise InputError(f"{reference}:{record.line}: sentence {sid} ({texts[sid][:60]!r}) is quoted as an "
                             f"example in {guidelines}:{line}, so annotators know its answer: take it out of "
                             "controls.reference or change the example in the guidelines")
        known[sid] = record.label
    wanted = round(fraction * len(sentence_ids))
    if len(known) < wanted:
        log.warning("controls: %d sentences wanted, only %d have a known label", wanted, len(known))
    rank = sorted(known, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
    return [{"sentence_id": s, "label": known[s]} for s in sorted(rank[:wanted])]


def in_overlap_sample(sentence_id: str, share: float, seed: int) -> bool:
    """Whether a sentence is in the overlap sample: a seeded draw of its own, so pushing more
    sentences never moves one in or out."""
    if share >= 1:
        return True
    digest = hashlib.sha256(f"overlap:{seed}:{sentence_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _overlap_files(state: Path, project_id: int) -> tuple[Path, Path]:
    """Sentences whose overlap differs from the one Label Studio gives a task on import ("sid k"
    lines, written before their import) and those whose task already holds it; per project id,
    so a recreated project starts afresh."""
    return state / f"overlap-{project_id}.todo", state / f"overlap-{project_id}.done"


def _read_plan(path: Path) -> dict[str, int]:
    plan: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        sid, _, k = line.partition(" ")
        plan[sid] = int(k or 1)
    return plan


def _apply_overlap(client: Any, ledger: Any, state: Path, *, recount: bool = False) -> int:
    """Give the imported tasks their planned overlap (resumable: a push killed half-way finishes
    the job on its next run; the last plan of a sentence wins). Returns how many tasks changed."""
    todo_path, done_path = _overlap_files(state, ledger.project_id)
    done = _read_plan(done_path)
    pending = {sid: k for sid, k in _read_plan(todo_path).items() if done.get(sid) != k and sid in ledger.tasks}
    if not pending:
        return 0
    with done_path.open("a", encoding="utf-8") as out:
        for k in sorted(set(pending.values())):
            todo = {ledger.tasks[sid]: sid for sid, n in sorted(pending.items()) if n == k}

            def record(task_id: int, k: int = k, todo: dict[int, str] = todo) -> None:
                out.write(f"{todo[task_id]} {k}\n")
                out.flush()
            api.set_overlap(client, list(todo), k, done=record, recount=recount)
    return len(pending)


def push_tasks(config: PushConfig) -> PushResult:
    share = config.project.overlap_share
    if config.chunk_size < 1 or config.project.maximum_annotations < 1:
        raise ConfigError("chunk_size and project.maximum_annotations must be at least 1")
    if config.lock_wait < 0 or config.lock_stale <= 0:
        raise ConfigError(f"lock_wait={config.lock_wait} and lock_stale={config.lock_stale}: give seconds, "
                          "lock_wait >= 0 and lock_stale > 0 (e.g. lock_wait=600 lock_stale=21600)")
    if not 0 < share <= 1:
        raise ConfigError(f"project.overlap_share={share}: give the share of sentences labelled by "
                          "project.maximum_annotations annotators, in (0, 1], e.g. project.overlap_share=0.2")
    check_annotators(list(config.annotators))
    check_language(config.interface.language)
    rows, raw = read_tasks(Path(config.input))
    predictions = read_predictions(Path(config.input) / "tasks.json", raw)
    meta = read_meta(Path(config.input) / "tasks.json", raw)
    label_set = load_label_set(config.label_set)
    label_config = build_label_config(label_set)
    version, instructions = read_guidelines(Path(config.guidelines))
    batch = config.batch or hashlib.sha256(raw).hexdigest()[:12]
    check_progress_mode(config.progress)
    state = state_dir_for(config.state_dir, config.project.name)
    reference = config.controls.reference
    if not reference and (Path(config.input) / "reference_labels.jsonl").is_file():
        reference = str(Path(config.input) / "reference_labels.jsonl")  # written by ingest reference=...
    controls = _choose_controls([r["sentence_id"] for r in rows], reference,
                                config.controls.fraction, config.controls.seed, label_set,
                                {r["sentence_id"]: r["sentence"] for r in rows}, Path(config.guidelines))

    k, control_ids = config.project.maximum_annotations, {c["sentence_id"] for c in controls}
    pushed = PushedSettings(label_set.name, version, k, share, config.project.overlap_seed)

    def plan(settings: PushedSettings) -> dict[str, int]:
        return {r["sentence_id"]: settings.overlap if r["sentence_id"] in control_ids or in_overlap_sample(
            r["sentence_id"], settings.overlap_share, settings.overlap_seed) else 1 for r in rows}

    overlap = plan(pushed)
    conn = resolve_connection(config.studio)
    client = api.connect(conn)
    with project_lock(client, config.project.name, wait=config.lock_wait, stale_after=config.lock_stale):
        existing = api.find_project(client, config.project.name)
        changes = project_changes(existing.settings, pushed, label_config) if existing else []
        check_changes(changes, project=config.project.name, answers=existing.answers if existing else 0,
                      force=config.force)  # before anything is written
        project = api.ensure_project(
            client, config.project.name, label_config=label_config, instructions=instructions,
            description=describe(pushed), show_skip_button=config.project.show_skip_button)
        annotator_files = create_annotators(client, list(config.annotators), config.studio, conn.managed, project)

        said = claim_state(state, url=conn.url, project_id=project.id)
        if said:
            log.warning(said)
        controls_path = None
        if controls:
            state.mkdir(parents=True, exist_ok=True)
            controls_path = state / "controls.jsonl"
            atomic_write(controls_path, "".join(json.dumps(c) + "\n" for c in controls))

        ledger = open_ledger(state / "ledger.tsv", url=conn.url, project_id=project.id)
        removed = reconcile(client, ledger)
        # srcrel's bookkeeping goes in the task's meta: the administrator, exports and srcrel read
        # it there; the labeling screen (and the gateway) never passes meta to annotators
        payloads: dict[str, dict[str, Any]] = {r["sentence_id"]: {"data": r,
                                       "meta": {**meta.get(r["sentence_id"], {}), "guidelines_version": version,
                                                "srcrel_batch": batch, "srcrel_overlap": overlap[r["sentence_id"]]},
                                       **({"predictions": predictions[r["sentence_id"]]}
                                          if r["sentence_id"] in predictions else {})}
                    for r in screen_fields(add_context(rows, config.interface), label_set, config.interface.language)}
        missing = [sid for sid in payloads if sid not in ledger.tasks]
        # a task is imported with the project's maximum_annotations as its overlap; srcrel keeps that
        # at 1 (Label Studio's label stream otherwise serves tasks others started first: breadth
        # first, which tells an annotator where the others are) and sets each sentence's own overlap
        # right after its chunk, recorded first so a killed push finishes the job
        base_overlap = int(project.settings.get("maximum_annotations") or 1)
        planned = [sid for sid in missing if overlap[sid] != base_overlap]
        if existing and overlap_changed(changes):  # the tasks already there follow the new overlap
            old = recorded(existing.settings.get("description"))
            before = plan(PushedSettings(label_set.name, version, int(old.get("overlap", base_overlap)),
                                         float(old.get("overlap_share", 1)), int(old.get("overlap_seed", 0))))
            planned += [sid for sid in ledger.tasks if sid in overlap and overlap[sid] != before[sid]]
        if planned:
            state.mkdir(parents=True, exist_ok=True)
            with _overlap_files(state, project.id)[0].open("a", encoding="utf-8") as out:
                out.write("".join(f"{sid} {overlap[sid]}\n" for sid in planned))
        with progress_bar("importing chunks", total=-(-len(missing) // config.chunk_size),
                          mode=config.progress) as advance:
            def after_chunk() -> None:  # the window in which a task has the wrong overlap: one chunk
                advance()
                _apply_overlap(client, ledger, state)
            imported = import_missing(client, ledger, payloads, chunk_size=config.chunk_size,
                                      timeout=config.timeout, retries=config.retries, advance=after_chunk)
        removed += reconcile(client, ledger)  # a late commit of a timed-out chunk shows up here
        _apply_overlap(client, ledger, state, recount=bool(existing and existing.answers))
        versions = [str(p[-1].get("model_version")) for p in predictions.values() if p and p[-1].get("model_version")]
        if versions and imported:  # the newest round's model pre-fills the label stream
            api.show_predictions(client, project.id, versions[-1])
    return PushResult(project_id=project.id, project_created=existing is None, url=conn.url, total=len(rows),
                      imported=imported, overlapped=sum(1 for n in overlap.values() if n > 1 or k == 1),
                      duplicates_removed=removed, guidelines_version=version, controls_path=controls_path,
                      annotator_files=annotator_files, changes=tuple(changes))


def run_from_config(cfg: Any) -> None:
    result = push_tasks(to_dataclass(cfg, PushConfig))
    verb = "created" if result.project_created else "updated"
    if result.changes:
        print(f"project {result.project_id}: changed {'; '.join(result.changes)}")
    print(f"project {result.project_id} {verb} at {result.url}/projects/{result.project_id}: "
          f"{result.imported} task(s) imported, {result.total - result.imported} already there "
          f"(guidelines {result.guidelines_version})")
    if result.overlapped < result.total:
        print(f"overlap sample: {result.overlapped} of {result.total} sentences get several annotators "
              "(agreement is measured on them), the rest one")
    if result.duplicates_removed:
        print(f"{result.duplicates_removed} duplicate task(s) removed")
    if result.controls_path:
        print(f"control answers: {result.controls_path} (pass it to build as controls=...)")
    for path in result.annotator_files:
        print(f"annotator file (send it as it is: address, login, projects): {path}")
