"""One push at a time per project, even from several machines sharing one Label Studio.

The lock lives in Label Studio itself: a marker project titled `srcrel-lock: NAME` whose
description names the holder. Creating a project is not atomic against a concurrent creator, so
every contender creates its own marker, waits for concurrent commits to land, then lists the
markers: the lowest id holds the lock, every other contender deletes its marker and waits (up to
push.lock_wait seconds) or fails in one line. A marker left by a push that died is taken over
when its holder's process is gone (same machine), when it names this very process (a create request
the client retried after the server had stored it: the lock is not re-entrant, so it is a leftover), or
when it is older than push.lock_stale seconds (there is no heartbeat: a push running longer than that
can be taken over; raise lock_stale).
On PostgreSQL ids are not always committed in id order; the settle time covers that in practice.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psutil

from labeling.studio import api
from srcrel_core.errors import StudioError

__all__ = ["LOCK_PREFIX", "project_lock"]

LOCK_PREFIX = "srcrel-lock: "
_SETTLE = 0.5  # seconds for a concurrent creator's insert to commit before the markers are compared
log = logging.getLogger(__name__)


def _machine() -> str:  # a host name is not unique (containers): the hardware address narrows it
    return f"host={socket.gethostname()} node={uuid.getnode():x}"


def _holder() -> str:
    return f"{_machine()} pid={os.getpid()} since={datetime.now(UTC).isoformat(timespec='seconds')}"


def _parse(holder: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in holder.split() if "=" in part)


def _stale(marker: api.Marker, stale_after: float) -> bool:
    fields = _parse(marker.holder)
    pid = fields.get("pid", "")
    here = _parse(_machine())
    if all(fields.get(k) == v for k, v in here.items()) and pid.isdigit() and (
            int(pid) == os.getpid() or not _running(int(pid))):
        return True  # its push died on this machine, or it is this process's own leftover (a retried create)
    try:
        since = datetime.fromisoformat(fields.get("since", ""))
    except ValueError:
        return False
    return (datetime.now(UTC) - since).total_seconds() > stale_after


def _running(pid: int) -> bool:
    """A process that exited but was not reaped yet (a zombie) still has a pid: it is not running."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@contextmanager
def project_lock(client: Any, name: str, *, wait: float, stale_after: float,
                 sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
    """Hold the push lock of project NAME for the duration of the block."""
    title = f"{LOCK_PREFIX}{name}"
    deadline = time.monotonic() + wait
    waited = False
    while True:
        mine = api.create_marker(client, title, _holder())
        try:
            sleep(_SETTLE)
            markers = api.list_markers(client, title)
        except BaseException:  # a marker left behind would block every later push for lock_stale seconds
            api.delete_project(client, mine)
            raise
        first = markers[0] if markers else None
        if first is None or first.id == mine:
            break
        api.delete_project(client, mine)
        if _stale(first, stale_after):
            log.warning("taking over the push lock of %r from a dead or stale holder (%s)", name, first.holder)
            api.delete_project(client, first.id)
            continue
        if time.monotonic() >= deadline:
            raise StudioError(f"another push to project {name!r} is running ({first.holder}): wait for it to end "
                              f"or raise push.lock_wait=SECONDS (now {wait:g}); a marker left by a push that "
                              f"died is project {first.id} titled {title!r}")
        if not waited:
            log.warning("another push to project %r is running (%s): waiting up to %g s for it", name,
                        first.holder, wait)
            waited = True
        sleep(min(2.0, max(0.0, deadline - time.monotonic())))
    try:
        yield
    finally:
        api.delete_project(client, mine)
