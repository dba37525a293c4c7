"""`srcrel push input=DIR project.name=NAME`: create or update the Label Studio project NAME
(interface from the label set, instructions from the guidelines, overlap, annotator accounts),
choose control sentences, and import the tasks it does not hold yet (see labeling/ledger.py).
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from labeling import studio
from labeling.config import PushConfig, StudioSettings, to_dataclass
from labeling.errors import ConfigError, InputError
from labeling.interface import TASK_FIELDS, build_label_config
from labeling.labelset import LabelSet, load_label_set
from labeling.ledger import import_missing, open_ledger, reconcile
from labeling.server import resolve_connection, write_private_file
from labeling.summary import check_progress_mode, progress_bar

__all__ = ["PushResult", "push_tasks", "read_guidelines", "read_tasks", "run_from_config", "state_dir_for"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushResult:
    project_id: int
    project_created: bool
    url: str
    total: int  # sentences in the input
    imported: int  # tasks created by this run
    duplicates_removed: int
    guidelines_version: str
    controls_path: Path | None
    annotator_files: tuple[Path, ...]


def read_guidelines(path: Path) -> tuple[str, str]:
    """(version, instructions HTML): version = sha256[:12] of the file; the text is escaped."""
    if not path.is_file():
        raise ConfigError(f"guidelines file {path} not found: write it or set guidelines=PATH")
    raw = path.read_bytes()
    version = hashlib.sha256(raw).hexdigest()[:12]
    return version, _render_markdown(raw.decode("utf-8")) + f"<p><small>guidelines version {version}</small></p>"


def _render_markdown(text: str) -> str:
    """Headings, list items, paragraphs and **bold** as HTML; all text escaped. List items keep
    their marker as text ("1.", "•"): Label Studio's stylesheet hides list markers, and rules
    refer to each other by number."""
    out: list[str] = []
    para: list[str] = []

    def inline(s: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(s.strip()))

    def flush() -> None:
        if para:
            out.append(f"<p>{inline(' '.join(para))}</p>")
            para.clear()

    in_item = False
    for line in [*text.splitlines(), ""]:
        item = re.match(r"^(\s*)([-*]|\d+\.) +(.*)", line)
        heading = re.match(r"^(#{1,6}) +(.*)", line)
        if in_item and not item and line.startswith(" ") and line.strip():
            out[-1] = out[-1][:-6] + " " + inline(line) + "</div>"  # a wrapped list item
            continue
        in_item = bool(item)
        if item:
            flush()
            marker = "•" if item.group(2) in "-*" else item.group(2)
            indent = "&nbsp;" * 4 * (1 + len(item.group(1)) // 2)
            out.append(f"<div>{indent}{marker} {inline(item.group(3))}</div>")
        elif heading:
            flush()
            level = min(len(heading.group(1)) + 2, 6)
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif not line.strip():
            flush()
        else:
            para.append(line)
    return "\n".join(out)


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


def state_dir_for(state_dir: str, project_name: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", project_name).strip("-") or "project"
    return Path(state_dir) / slug


def _choose_controls(sentence_ids: list[str], reference: str, fraction: float, seed: int,
                     label_set: LabelSet, texts: dict[str, str]) -> list[dict[str, str]]:
    """A deterministic sample of FRACTION of the sentences among those the reference labels."""
    if fraction <= 0:
        return []
    if not reference:
        raise ConfigError("controls.fraction > 0 needs controls.reference=FILE (JSONL {sentence_id, label})")
    path = Path(reference)
    if not path.is_file():
        raise ConfigError(f"controls.reference {path} not found: give a JSONL of {{sentence_id, label}}")
    by_text = {text: sid for sid, text in texts.items()}
    known: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        sid = row.get("sentence_id") or by_text.get(row.get("text", ""))
        if row.get("label") not in label_set.names:
            raise InputError(f"{path}:{n}: label {row.get('label')!r} is not in label set "
                             f"{label_set.name} {label_set.names}")
        if sid in texts:
            known[sid] = row["label"]
    wanted = round(fraction * len(sentence_ids))
    if len(known) < wanted:
        log.warning("controls: %d sentences wanted, only %d have a known label", wanted, len(known))
    rank = sorted(known, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
    return [{"sentence_id": s, "label": known[s]} for s in sorted(rank[:wanted])]


def _create_annotators(client: Any, emails: list[str], settings: StudioSettings,
                       managed: bool) -> tuple[Path, ...]:
    files: list[Path] = []
    for email in emails:
        studio.create_user(client, email)
        if not managed:
            continue
        path = Path(settings.data_dir).resolve() / "annotators" / f"{email}.json"
        if not path.is_file():  # keep an existing password: annotators may already use it
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            password = secrets.token_urlsafe(16)
            studio.set_user_password(settings, email, password)
            write_private_file(path, json.dumps({"email": email, "password": password}) + "\n")
        files.append(path)
    if emails and not managed:
        log.warning("annotator accounts created on an external server: its admin must set their passwords")
    return tuple(files)


def push_tasks(config: PushConfig) -> PushResult:
    rows, raw = read_tasks(Path(config.input))
    label_set = load_label_set(config.label_set)
    label_config = build_label_config(label_set)
    version, instructions = read_guidelines(Path(config.guidelines))
    batch = config.batch or hashlib.sha256(raw).hexdigest()[:12]
    if config.chunk_size < 1 or config.project.maximum_annotations < 1:
        raise ConfigError("chunk_size and project.maximum_annotations must be at least 1")
    check_progress_mode(config.progress)
    state = state_dir_for(config.state_dir, config.project.name)
    reference = config.controls.reference
    if not reference and (Path(config.input) / "reference_labels.jsonl").is_file():
        reference = str(Path(config.input) / "reference_labels.jsonl")  # written by ingest reference=...
    controls = _choose_controls([r["sentence_id"] for r in rows], reference,
                                config.controls.fraction, config.controls.seed, label_set,
                                {r["sentence_id"]: r["sentence"] for r in rows})

    conn = resolve_connection(config.studio)
    client = studio.connect(conn)
    existed = studio.find_project(client, config.project.name) is not None
    project = studio.ensure_project(
        client, config.project.name, label_config=label_config, instructions=instructions,
        description=f"srcrel label_set={label_set.name} guidelines_version={version}",
        maximum_annotations=config.project.maximum_annotations,
        show_skip_button=config.project.show_skip_button)
    annotator_files = _create_annotators(client, list(config.annotators), config.studio, conn.managed)

    controls_path = None
    if controls:
        state.mkdir(parents=True, exist_ok=True)
        controls_path = state / "controls.jsonl"
        tmp = controls_path.with_name("controls.jsonl.tmp")
        tmp.write_text("".join(json.dumps(c) + "\n" for c in controls), encoding="utf-8")
        tmp.replace(controls_path)

    ledger = open_ledger(state / "ledger.tsv", url=conn.url, project_id=project.id)
    removed = reconcile(client, ledger)
    payloads = {r["sentence_id"]: {"data": {**r, "guidelines_version": version, "srcrel_batch": batch}}
                for r in rows}
    missing = sum(1 for sid in payloads if sid not in ledger.tasks)
    with progress_bar("importing chunks", total=-(-missing // config.chunk_size), mode=config.progress) as advance:
        imported = import_missing(client, ledger, payloads, chunk_size=config.chunk_size,
                                  timeout=config.timeout, retries=config.retries, advance=advance)
    removed += reconcile(client, ledger)  # a late commit of a timed-out chunk shows up here
    return PushResult(project_id=project.id, project_created=not existed, url=conn.url, total=len(rows),
                      imported=imported, duplicates_removed=removed, guidelines_version=version,
                      controls_path=controls_path, annotator_files=annotator_files)


def run_from_config(cfg: Any) -> None:
    result = push_tasks(to_dataclass(cfg, PushConfig))
    verb = "created" if result.project_created else "updated"
    print(f"project {result.project_id} {verb} at {result.url}/projects/{result.project_id}: "
          f"{result.imported} task(s) imported, {result.total - result.imported} already there "
          f"(guidelines {result.guidelines_version})")
    if result.duplicates_removed:
        print(f"{result.duplicates_removed} duplicate task(s) removed")
    if result.controls_path:
        print(f"control answers: {result.controls_path} (pass it to build as controls=...)")
    for path in result.annotator_files:
        print(f"annotator login: {path}")
