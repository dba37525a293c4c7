"""What a stage shows a person while it works: a progress bar on a terminal (silent in logs and
CI), and the console that one-screen summaries print to."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from srcrel_core.errors import ConfigError
from srcrel_core.settings import choices

__all__ = ["ProgressMode", "check_progress_mode", "console", "phase", "progress_bar"]

# 120 columns when not on a terminal: tables in logs and CI stay readable
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


class ProgressMode(StrEnum):
    """auto: a bar only on an interactive terminal; always; never."""

    auto = "auto"
    always = "always"
    never = "never"


def check_progress_mode(mode: str) -> None:
    """For callers of the Python API (the CLI checks the setting when it composes the config)."""
    if mode not in tuple(ProgressMode):
        raise ConfigError(f"progress={mode}: use one of {choices(ProgressMode)}")


@contextmanager
def progress_bar(label: str, *, total: int, mode: str = "auto") -> Iterator[Callable[[], None]]:
    """Yield an `advance()` callable; draw a bar only on an interactive terminal (or mode=always)."""
    check_progress_mode(mode)
    show = mode == "always" or (mode == "auto" and sys.stderr.isatty())
    if not show:
        yield lambda: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


@contextmanager
def phase(label: str, *, mode: str = "auto", every: float = 60.0) -> Iterator[Callable[[str], None]]:
    """One step of a long stage: on a terminal a spinner with the step's name and time; in a log
    (not a terminal) a line a minute while it runs (a short step prints nothing there), so a
    3-minute `train` or a 40-second `studio up` is never silent. Yields `update(text)`."""
    import threading
    import time

    check_progress_mode(mode)
    started = time.monotonic()
    current = [label]
    if mode == "never":
        yield lambda text: None
        return
    if mode == "always" or sys.stderr.isatty():
        err = Console(stderr=True)
        with err.status(label) as status:
            def update(text: str) -> None:
                current[0] = text
                status.update(f"{text} ({time.monotonic() - started:.0f} s)")
            yield update
        return
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every):
            print(f"srcrel: {current[0]} ({(time.monotonic() - started) / 60:.0f} min so far)", file=sys.stderr,
                  flush=True)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield lambda text: current.__setitem__(0, text)
    finally:
        done.set()
