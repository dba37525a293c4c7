"""The backend's model versions on disk and the one in memory.

    <model_dir>/<version>.skops   one file per version, written beside and renamed into place
    <model_dir>/current.json      {"version", "saved_at", "n_labels", "labels"}: the one to serve

A reader (a restarted backend) sees the previous current.json or the new one, never a part, and
the file it names is complete before current.json names it. Never pickle: skops, and on load only
the types training.models trusts.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from srcrel_core.errors import TrainingError
from srcrel_core.io import atomic_write
from training.models import load_model, save_model
from training.span_models import load_span_model

__all__ = ["ModelStore", "Served", "Serving"]

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Served:
    """A fitted model and the version Label Studio sees on its predictions."""

    version: str
    estimator: Any
    labels: tuple[str, ...]
    tagger: Any = None  # who is the source (training/span_models.py), pre-filled on sourced predictions


class Serving:
    """The model /predict uses: read by request threads, swapped whole by the trainer."""

    def __init__(self, served: Served | None = None) -> None:
        self._lock = threading.Lock()
        self._served = served

    def current(self) -> Served | None:
        with self._lock:
            return self._served

    def swap(self, served: Served) -> None:
        with self._lock:
            self._served = served


class ModelStore:
    def __init__(self, model_dir: Path) -> None:
        self.model_dir = Path(model_dir)

    @property
    def current_path(self) -> Path:
        return self.model_dir / "current.json"

    def path_of(self, version: str) -> Path:
        if not _VERSION.match(version):  # the version becomes a file name
            raise TrainingError(f"model version {version!r} is not a safe file name: give model.name letters, "
                                "digits, '.', '_' or '-' only")
        return self.model_dir / f"{version}.skops"

    def span_dir(self, version: str) -> Path:
        return self.path_of(version).with_suffix(".spans")

    def versions(self) -> list[str]:
        return sorted(p.stem for p in self.model_dir.glob("*.skops"))

    def save(self, served: Served, *, n_labels: int) -> Path:
        """Write the version's file (kept as it is if it exists: a version names its labels), then
        make it the current one."""
        self.model_dir.mkdir(parents=True, exist_ok=True)
        path = self.path_of(served.version)
        if not path.is_file():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=self.model_dir)
            os.close(fd)
            try:
                save_model(served.estimator, Path(tmp))
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        if served.tagger is not None and not self.span_dir(served.version).is_dir():
            served.tagger.save(self.span_dir(served.version))
        record = {"version": served.version, "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "n_labels": n_labels, "labels": list(served.labels)}
        atomic_write(self.current_path, orjson.dumps(record, option=orjson.OPT_INDENT_2))
        return path

    def load_current(self) -> Served | None:
        """The version current.json names; None before the first one was saved."""
        if not self.current_path.is_file():
            return None
        try:
            record = orjson.loads(self.current_path.read_bytes())
            version, labels = str(record["version"]), tuple(str(x) for x in record["labels"])
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise TrainingError(f"{self.current_path} is not a backend record ({exc}): delete it to start "
                                "from no model (the next retrain writes it again)") from exc
        path = self.path_of(version)
        if not path.is_file():
            raise TrainingError(f"{self.current_path} names {path.name}, which is missing: restore it, or delete "
                                "current.json to start from no model")
        spans = self.span_dir(version)
        return Served(version=version, estimator=load_model(path), labels=labels,
                      tagger=load_span_model(spans) if spans.is_dir() else None)
