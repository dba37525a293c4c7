"""Retraining off the request path: an annotation event only marks the model stale; one thread
waits until the events stop (`debounce` seconds of quiet, at most `max_wait` after the first),
then pulls the project's labels, fits the configured baseline, saves the version and swaps it in.
A failure is logged in one line and kept in the status; the previous version keeps serving."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from srcrel.backend.config import BackendConfig
from srcrel.backend.store import ModelStore, Served, Serving
from srcrel.loop.learner import fit_baseline, fit_span_tagger, model_version, pull_labels

__all__ = ["Trainer", "TrainerStatus", "retrain"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainerStatus:
    state: Literal["idle", "waiting", "training"] = "idle"
    trained: int = 0  # retrains that finished (a new version, or the same labels again)
    failed: int = 0
    last_error: str = ""  # one line; empty after a success
    last_finished: str = ""  # ISO time of the last retrain that ended, either way
    note: str = ""  # e.g. "fewer than two labels: nothing to fit yet"


def retrain(config: BackendConfig, store: ModelStore, serving: Serving, label_names: tuple[str, ...]) -> str:
    """One retrain: the project's labels now -> a fitted baseline -> saved, then served. Returns a
    one-line note (the new version, or why none)."""
    model_dir = Path(config.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    pulls = Path(tempfile.mkdtemp(prefix=".pull-", dir=model_dir))
    try:
        pulled = pull_labels(project=config.project, studio=config.studio, output_dir=pulls,
                             label_names=label_names)
    finally:
        shutil.rmtree(pulls, ignore_errors=True)
    train = pulled.labels
    version = model_version(train, round_index=0, model_name=config.model.name)
    current = serving.current()
    if current is not None and current.version == version:
        return f"labels unchanged: still serving {version}"
    estimator = fit_baseline(train, model=config.model, features=config.features, seed=config.seed)
    if estimator is None:
        return f"{len(train)} labelled sentence(s) with fewer than two labels: nothing to fit yet"
    served = Served(version=version, estimator=estimator, labels=label_names,
                    tagger=fit_span_tagger(train, seed=config.seed))
    store.save(served, n_labels=len(train))
    serving.swap(served)
    log.info("serving %s (fitted on %d labelled sentences)", version, len(train))
    return f"serving {version}"


class Trainer:
    """The one retraining thread. `notify()` returns at once; `fit` runs on the thread only."""

    def __init__(self, fit: Callable[[], str], *, debounce: float, max_wait: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fit = fit
        self._debounce = debounce
        self._max_wait = max(max_wait, debounce)
        self._clock = clock
        self._cond = threading.Condition()
        self._dirty = False
        self._first = self._last = 0.0
        self._stopping = False
        self._status = TrainerStatus()
        self._thread = threading.Thread(target=self._run, name="srcrel-backend-trainer", daemon=True)

    def start(self) -> Trainer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def notify(self) -> None:
        """An annotation changed: retrain after the burst of events is over."""
        with self._cond:
            now = self._clock()
            if not self._dirty:
                self._first = now
            self._dirty, self._last = True, now
            if self._status.state == "idle":
                self._status = replace(self._status, state="waiting")
            self._cond.notify_all()

    def status(self) -> TrainerStatus:
        with self._cond:
            return self._status

    def _wait_for_quiet(self) -> bool:
        """Under the lock: block until an event's burst is over; False when stopping."""
        while not self._dirty and not self._stopping:
            self._cond.wait()
        while not self._stopping:
            due = min(self._last + self._debounce, self._first + self._max_wait)
            left = due - self._clock()
            if left <= 0:
                return True
            self._cond.wait(left)
        return False

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._wait_for_quiet():
                    return
                self._dirty = False
                self._status = replace(self._status, state="training")
            try:
                note = self._fit()
            except Exception as exc:  # noqa: BLE001 - any failure: the previous version keeps serving
                line = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
                log.error("retraining failed, the previous model keeps serving: %s", line)
                update = {"failed": self._status.failed + 1, "last_error": line, "note": ""}
            else:
                update = {"trained": self._status.trained + 1, "last_error": "", "note": note}
            with self._cond:
                self._status = replace(self._status, state="waiting" if self._dirty else "idle",
                                       last_finished=datetime.now(UTC).isoformat(timespec="seconds"),
                                       **update)  # type: ignore[arg-type]
