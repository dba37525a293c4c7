"""The gateway's records on disk, in Label Studio's data dir: who may label which project
(`access.json`, written by `srcrel push annotators=[...]`, because Label Studio Community has no
project membership), every annotation made or changed through the gateway and by whom
(`gateway/annotations.jsonl`: pull saves it beside the export and build checks each stored
author against it), and every task the label stream handed to each account
(`gateway/handed.jsonl`: an answer is accepted only for a task handed to its account).

The two journals are appended by one `write` per line on a file opened with O_APPEND, so several
gateway processes can share them; a torn last line is ignored.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

from srcrel_core.io import atomic_write

__all__ = ["HandOuts", "access_path", "append_line", "gateway_annotations", "gateway_authors", "grant",
           "journal_path", "members", "read_access", "read_titles"]


def access_path(data_dir: str | Path) -> Path:
    return Path(data_dir).resolve() / "access.json"


def read_access(data_dir: str | Path) -> dict[str, list[str]]:
    """project id (str) -> emails of the accounts added to it (lower case)."""
    path = access_path(data_dir)
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): [str(e).lower() for e in v] for k, v in raw.get("projects", {}).items()}


def read_titles(data_dir: str | Path) -> dict[int, str]:
    """project id -> its title when it was last pushed (for the annotators' files)."""
    path = access_path(data_dir)
    raw = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {int(k): str(v) for k, v in raw.get("titles", {}).items()}


def grant(data_dir: str | Path, project_id: int, emails: list[str], *, title: str = "") -> None:
    """Add accounts to a project (idempotent): the gateway lets them label it, nothing else."""
    projects = read_access(data_dir)
    known = projects.setdefault(str(project_id), [])
    known.extend(e.lower() for e in emails if e.lower() not in known)
    titles = {str(k): v for k, v in read_titles(data_dir).items()} | ({str(project_id): title} if title else {})
    atomic_write(access_path(data_dir), json.dumps({"projects": projects, "titles": titles}, indent=2) + "\n")


def members(access: Mapping[str, list[str]], email: str) -> set[int]:
    """The projects an account was added to."""
    return {int(pid) for pid, emails in access.items() if email.lower() in emails}


def journal_path(data_dir: str | Path) -> Path:
    """Where the gateway records each annotation it let an annotator make or update."""
    return Path(data_dir).resolve() / "gateway" / "annotations.jsonl"


def handed_path(data_dir: str | Path) -> Path:
    return Path(data_dir).resolve() / "gateway" / "handed.jsonl"


def append_line(path: Path, entry: Mapping[str, object]) -> None:
    """One JSON line, appended with a single write (atomic among processes for lines this short)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(entry, separators=(",", ":")) + "\n").encode())
    finally:
        os.close(fd)


def _lines(path: Path, offset: int = 0) -> tuple[list[dict[str, object]], int]:
    """The complete JSON lines of `path` from byte `offset`, and the offset after the last one."""
    if not path.is_file():
        return [], offset
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1  # a line still being written is read next time
    rows = []
    for line in data[:end].splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows, offset + end


def gateway_authors(data_dir: str | Path) -> dict[int, int]:
    """annotation id -> the account that made it through the gateway."""
    authors: dict[int, int] = {}
    for row in _lines(journal_path(data_dir))[0]:
        try:
            authors.setdefault(int(row["annotation"]), int(row["user"]))  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError):
            continue
    return authors


def gateway_annotations(data_dir: str | Path) -> list[int]:
    """Ids of the annotations made or updated through the gateway."""
    return sorted(gateway_authors(data_dir))


class HandOuts:
    """Which tasks the label stream handed to which account, read from the shared journal (so a
    task handed by one gateway process can be answered through another)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = handed_path(data_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._seen: set[tuple[int, int]] = set()
        self._offset = 0

    def record(self, user: int, task: int, project: int) -> None:
        if (user, task) not in self._seen:
            append_line(self.path, {"user": user, "task": task, "project": project, "at": round(time.time(), 3)})
            self._seen.add((user, task))

    def handed(self, user: int, task: int) -> bool:
        if (user, task) not in self._seen:  # perhaps handed by another process since the last read
            rows, self._offset = _lines(self.path, self._offset)
            for row in rows:
                try:
                    self._seen.add((int(row["user"]), int(row["task"])))  # type: ignore[call-overload]
                except (KeyError, TypeError, ValueError):
                    continue
        return (user, task) in self._seen
