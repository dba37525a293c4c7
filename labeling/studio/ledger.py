"""Idempotent, resumable task import: a local ledger of (task id, sentence_id) per project,
reconciled with the server by one cheap query, and a chunk loop that re-checks before re-sending.

Label Studio has no idempotency key: every import creates tasks. So srcrel keeps its own record
and trusts it only when the project's task count agrees; otherwise it lists the tasks it does not
know (ids above the highest one it knows: one filtered request per 10k tasks, not the whole
project) and, if the count still disagrees, lists everything once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeling.studio import api
from srcrel_core.errors import StudioError
from srcrel_core.io import atomic_write

__all__ = ["Ledger", "claim_state", "import_missing", "ledger_owner", "open_ledger", "reconcile", "state_dir_for"]

log = logging.getLogger(__name__)

_SETTLE_SECONDS = 3.0  # after an uncertain import, wait until the task count is stable this long


@dataclass
class Ledger:
    """sentence_id -> task id of the tasks a project is known to hold; appended per chunk."""

    path: Path
    url: str
    project_id: int
    tasks: dict[str, int] = field(default_factory=dict)

    @property
    def max_id(self) -> int:
        return max(self.tasks.values(), default=0)

    def append(self, refs: Sequence[tuple[int, str]]) -> None:
        """Record refs durably (a kill mid-write leaves at most a partial last line, ignored)."""
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write("".join(f"{task_id}\t{sid}\n" for task_id, sid in refs))
            fh.flush()
            os.fsync(fh.fileno())
        self.tasks.update((sid, task_id) for task_id, sid in refs)

    def rewrite(self, tasks: dict[str, int]) -> None:
        header = json.dumps({"url": self.url, "project_id": self.project_id})
        atomic_write(self.path, header + "\n" + "".join(f"{t}\t{s}\n" for s, t in tasks.items()))
        self.tasks = dict(tasks)


def state_dir_for(state_dir: str, project_name: str) -> Path:
    """The local folder of a project's state (ledger, control answers): STATE_DIR/<name as a slug>."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", project_name).strip("-") or "project"
    return Path(state_dir) / slug


def ledger_owner(path: Path) -> dict[str, Any] | None:
    """{"url", "project_id"} a ledger (and the state folder it sits in) belongs to, if any."""
    if not path.is_file():
        return None
    try:
        header = json.loads(path.read_text(encoding="utf-8").split("\n", 1)[0] or "{}")
    except (OSError, ValueError):
        return None
    return header if isinstance(header, dict) and "url" in header else None


def claim_state(state: Path, *, url: str, project_id: int) -> str | None:
    """Make STATE this project's: a folder left by another server or project (a fresh server, a new
    project of the same name) has its files removed (ledger, control answers, overlap plans), and
    the line saying so is returned; nothing of the old project is read as this one's."""
    owner = ledger_owner(state / "ledger.tsv")
    if owner is None or owner == {"url": url, "project_id": project_id}:
        return None
    for stale in [state / "ledger.tsv", state / "controls.jsonl", *state.glob("overlap-*.todo"),
                  *state.glob("overlap-*.done")]:
        stale.unlink(missing_ok=True)
    return (f"state_dir {state} belonged to project {owner.get('project_id')} on {owner.get('url')}, not project "
            f"{project_id} on {url}: its ledger, control answers and overlap plans were set aside (removed)")


def open_ledger(path: Path, *, url: str, project_id: int) -> Ledger:
    """Read the ledger at PATH; start afresh if it belongs to another server or project."""
    ledger = Ledger(path=path, url=url, project_id=project_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file():
        header, *lines = path.read_text(encoding="utf-8").split("\n")
        if json.loads(header or "{}") == {"url": url, "project_id": project_id}:
            for line in lines[:-1]:  # the last item is "" or a partial line cut by a kill
                task_id, _, sid = line.partition("\t")
                ledger.tasks[sid] = int(task_id)
            return ledger
    ledger.rewrite({})
    return ledger


def reconcile(client: Any, ledger: Ledger) -> int:
    """Make the ledger match the server; delete duplicate unannotated tasks. Returns how many
    duplicates were removed."""
    count = api.count_tasks(client, ledger.project_id)
    if count == len(ledger.tasks):
        return 0
    refs: list[tuple[int, str]] = []
    if count > len(ledger.tasks):
        refs = api.list_task_refs(client, ledger.project_id, after_id=ledger.max_id)
        if len(ledger.tasks) + len(refs) != count:
            refs = []  # the ledger is not a prefix of the server (tasks deleted, ids reused)
    if not refs:
        log.info("task count %d != ledger %d: listing all tasks of project %d", count,
                 len(ledger.tasks), ledger.project_id)
        ledger.rewrite({})
        refs = api.list_task_refs(client, ledger.project_id)
    fresh: dict[str, int] = {}
    dupes: list[int] = []
    for task_id, sid in refs:  # ascending ids: a sentence's first task is the one kept
        if sid in ledger.tasks or sid in fresh:
            dupes.append(task_id)
        else:
            fresh[sid] = task_id
    ledger.append([(t, s) for s, t in fresh.items()])
    if not dupes:
        return 0
    deleted = api.delete_tasks(client, ledger.project_id, dupes)
    log.warning("project %d held %d duplicate task(s): deleted %d unannotated ones",
                ledger.project_id, len(dupes), len(deleted))
    return len(deleted)


def _wait_until_settled(client: Any, project_id: int, *, limit: float) -> None:
    """A timed-out import may still be committing: wait until the task count stops moving."""
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            count = api.count_tasks(client, project_id)
        except StudioError:
            count = -2  # server busy or restarting: keep waiting
        if count != last:
            last, since = count, time.monotonic()
        elif count >= 0 and time.monotonic() - since >= _SETTLE_SECONDS:
            return
        time.sleep(0.5)


def import_missing(client: Any, ledger: Ledger, payloads: dict[str, dict[str, Any]], *, chunk_size: int,
                   timeout: float, retries: int, advance: Callable[[], None] = lambda: None) -> int:
    """Import the payloads whose sentence_id the ledger lacks, chunk by chunk. Returns how many
    tasks this call created."""
    missing = [sid for sid in payloads if sid not in ledger.tasks]
    created = 0
    for start in range(0, len(missing), chunk_size):
        chunk = missing[start:start + chunk_size]
        for attempt in range(retries + 1):
            try:
                ids = api.import_tasks(client, ledger.project_id, [payloads[s] for s in chunk],
                                          timeout=timeout)
            except api.UncertainImport as exc:
                log.warning("chunk of %d tasks failed (%s); re-checking the server", len(chunk), exc)
                if attempt == retries:
                    raise StudioError(f"{exc}; gave up after {retries + 1} attempts. Nothing is "
                                      "duplicated: re-run push to resume, or raise push.timeout") from exc
                _wait_until_settled(client, ledger.project_id, limit=max(timeout, 30.0))
                before = len(ledger.tasks)
                reconcile(client, ledger)
                created += len(ledger.tasks) - before
                chunk = [s for s in chunk if s not in ledger.tasks]
                if not chunk:
                    break
                continue
            if len(ids) == len(chunk):
                ledger.append(list(zip(ids, chunk)))
            else:  # the server did not say which task is which: ask it
                reconcile(client, ledger)
            created += len(chunk)
            break
        advance()
    return created
