"""Issue 20 item 11: a long step is never silent: a line a minute in a log, nothing for a short one."""

from __future__ import annotations

import time

import pytest

from srcrel_core.progress import phase


def test_a_long_step_prints_a_line_every_interval_in_a_log(capsys: pytest.CaptureFixture[str]) -> None:
    with phase("fitting tfidf_logreg on 830 sentences", every=0.1) as step:
        time.sleep(0.25)
        step("scoring")
        time.sleep(0.15)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("srcrel: fitting tfidf_logreg on 830 sentences (") and "min so far)" in lines[0]
    assert lines[-1].startswith("srcrel: scoring (") and 2 <= len(lines) <= 5
    time.sleep(0.25)
    assert capsys.readouterr().err == ""  # the heartbeat ends with the step


def test_a_short_step_or_progress_never_print_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with phase("quick", every=60):
        pass
    with phase("silenced", every=0.05, mode="never"):
        time.sleep(0.15)
    assert capsys.readouterr().err == ""
