"""Faults during a campaign, caused for real: PostgreSQL stopped and started again, a Label Studio
instance stopped behind the gateway, a pull killed. Nothing an annotator was told is saved may be
lost; what failed must have said so."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from labeling.studio import api
from labeling.studio.config import Database, PushConfig, StudioSettings
from labeling.studio.connection import resolve_connection
from labeling.studio.database import start_database, stop_database
from labeling.studio.push import push_tasks
from labeling.studio.server import gateway_pid, health, running_pid, start_server, stop_server
from srcrel.cli import compose_stage_config
from srcrel_core.settings import to_dataclass
from tests.conftest import STUDIO_EXECUTABLE, free_port, write_ingest_dir
from tests.labeling.gateway.test_access import _session
from tests.labeling.studio.test_pull import _choice

REPO = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.studio]
ANNOTATOR = "fault-ann@example.com"
RESULT = _choice("opinion")


@pytest.fixture(scope="module")
def pair() -> Iterator[StudioSettings]:
    """Two Label Studio instances on srcrel's own PostgreSQL behind a gateway of two processes
    (studio.gateway_workers), each instance served by gunicorn with two worker processes."""
    base = Path(tempfile.mkdtemp(prefix="srcrel-pair-"))
    base.chmod(0o711)  # reachable by the postgres account when the tests run as root
    settings = StudioSettings(port=free_port(), data_dir=str(base / "studio"), executable=str(STUDIO_EXECUTABLE),
                              public_port=free_port(), database=Database.postgresql, database_port=free_port(),
                              instance_ports=[free_port()], workers=2, gateway_workers=2)
    start_server(settings)
    yield settings
    stop_server(settings)
    if not os.environ.get("SRCREL_KEEP_PAIR"):
        shutil.rmtree(base, ignore_errors=True)


def _campaign(settings: StudioSettings, tmp_path: Path, name: str, n: int) -> tuple[int, list[int], requests.Session]:
    cfg = compose_stage_config("push", [
        f"input={write_ingest_dir(tmp_path / 'in', n, prefix=name[:2])}", f"project.name={name}",
        f"state_dir={tmp_path / 'state'}", f"guidelines={REPO / 'docs/guidelines.md'}", f"annotators=[{ANNOTATOR}]",
        f"studio.port={settings.port}", f"studio.public_port={settings.public_port}",
        f"studio.data_dir={settings.data_dir}", f"studio.executable={settings.executable}"])
    pushed = push_tasks(to_dataclass(cfg, PushConfig))
    login = json.loads(pushed.annotator_files[0].read_text())
    tasks = sorted(t for t, _ in api.list_task_refs(api.connect(resolve_connection(settings)), pushed.project_id))
    return pushed.project_id, tasks, _session(settings, login)


def _submit(session: requests.Session, settings: StudioSettings, project: int, task: int) -> tuple[int, int | None]:
    """(HTTP status, annotation id if stored) of one answer through the gateway, as the screen
    gives it: the label stream hands the next task (`task`, in order), then the answer is sent."""
    base = f"http://127.0.0.1:{settings.public_port}"
    try:
        handed = session.post(f"{base}/api/dm/actions?id=next_task&project={project}", json={}, timeout=60)
        if handed.status_code != 200:
            return handed.status_code, None
        assert handed.json()["id"] == task  # sequential: the stream hands the tasks in order
        answer = session.post(f"{base}/api/tasks/{task}/annotations/?project={project}", json={"result": RESULT},
                              timeout=60)
    except requests.ConnectionError:
        return 0, None
    return answer.status_code, (answer.json().get("id") if answer.status_code == 201 else None)


def _submit_until_stored(session: requests.Session, settings: StudioSettings, project: int,
                         task: int) -> tuple[int, int | None]:
    """`_submit`, re-sent after a 5xx (at most 5 times): the gateway said nothing was stored."""
    for _ in range(5):
        status, stored = _submit(session, settings, project, task)
        if status < 500:
            return status, stored
        assert stored is None
        time.sleep(1.0)
    return status, stored


def _stored(settings: StudioSettings, project: int) -> set[int]:
    client = api.connect(resolve_connection(settings))
    return {a.id for t, _ in api.list_task_refs(client, project) for a in client.annotations.list(id=t)}


def _kill(pid: int | None) -> None:
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)


def test_two_instances_on_one_database_both_serve_annotators(pair: StudioSettings, tmp_path: Path) -> None:
    extra = pair.instance_ports[0]
    assert health(f"http://127.0.0.1:{extra}")
    project, tasks, session = _campaign(pair, tmp_path, "pair", 6)
    made = [_submit(session, pair, project, t) for t in tasks[:2]]
    _kill(running_pid(pair))  # the first instance dies: the second one carries on alone
    made += [_submit(session, pair, project, t) for t in tasks[2:4]]
    start_server(pair)  # brings the first back (the second still runs)
    _kill(running_pid(pair, extra))  # now the second dies: the first carries on
    made += [_submit(session, pair, project, t) for t in tasks[4:]]
    assert [status for status, _ in made] == [201] * 6
    assert _stored(pair, project) == {i for _, i in made}
    start_server(pair)
    assert health(f"http://127.0.0.1:{extra}")


def test_gateway_processes_side_by_side_store_one_answer_once(pair: StudioSettings, tmp_path: Path) -> None:
    """The one-answer guard is a PostgreSQL advisory lock: two gateway processes take the same
    submits (a double click, a retry) and still store the answer once."""
    import threading

    project, _, session = _campaign(pair, tmp_path, "gw-workers", 2)
    base = f"http://127.0.0.1:{pair.public_port}"
    handed = session.post(f"{base}/api/dm/actions?id=next_task&project={project}", json={}, timeout=60).json()["id"]
    barrier, statuses = threading.Barrier(8), []

    def submit() -> None:
        with requests.Session() as own:  # a connection each: the processes share them out
            own.cookies.update(session.cookies)
            own.headers.update(session.headers)
            barrier.wait()
            statuses.append(own.post(f"{base}/api/tasks/{handed}/annotations/?project={project}",
                                     json={"result": RESULT}, timeout=60).status_code)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [403] * 7
    assert len(_stored(pair, project)) == 1
    gateway = psutil.Process(gateway_pid(pair))
    assert len([p for p in gateway.children() if "spawn" in " ".join(p.cmdline())]) == 2  # two processes serve


def test_database_stopped_mid_campaign_fails_visibly_and_keeps_what_it_stored(
        pair: StudioSettings, tmp_path: Path) -> None:
    project, tasks, session = _campaign(pair, tmp_path, "db-fault", 8)
    made = [_submit(session, pair, project, t) for t in tasks[:3]]
    assert stop_database(pair)
    during = [_submit(session, pair, project, t) for t in tasks[3:5]]
    start_database(pair)
    # the failed ones, sent again as a person would: each Label Studio process's first query on a
    # connection from before the restart may fail (500, nothing stored) before Django reconnects
    after = [_submit_until_stored(session, pair, project, t) for t in tasks[3:]]
    assert [s for s, _ in made] == [201] * 3 and [s for s, _ in after] == [201] * 5
    assert all(status >= 500 and stored is None for status, stored in during), during  # said, not swallowed
    assert _stored(pair, project) == {i for _, i in made + after}


def test_label_studio_stopped_mid_campaign_fails_visibly_and_keeps_what_it_stored(
        pair: StudioSettings, tmp_path: Path) -> None:
    project, tasks, session = _campaign(pair, tmp_path, "ls-fault", 6)
    made = [_submit(session, pair, project, t) for t in tasks[:2]]
    for pid in (running_pid(pair), running_pid(pair, pair.instance_ports[0])):
        _kill(pid)
    during = [_submit(session, pair, project, t) for t in tasks[2:4]]
    start_server(pair)
    after = [_submit(session, pair, project, t) for t in tasks[2:]]
    assert [s for s, _ in during] == [502, 502]  # the gateway says Label Studio is not answering
    assert [s for s, _ in made + after] == [201] * 6
    assert _stored(pair, project) == {i for _, i in made + after}


def test_a_killed_pull_leaves_no_export_under_its_name_and_a_rerun_succeeds(
        studio_settings: StudioSettings, tmp_path: Path) -> None:
    _campaign(studio_settings, tmp_path, "pull-fault", 3000)
    out = tmp_path / "pull"
    out.mkdir()
    args = ["project.name=pull-fault", f"output_dir={out}", f"studio.port={studio_settings.port}",
            f"studio.data_dir={studio_settings.data_dir}", f"studio.executable={studio_settings.executable}",
            "only_with_annotations=false"]
    proc = subprocess.Popen([sys.executable, "-m", "srcrel.cli", "pull", *args], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob(".export-*.part")):
        time.sleep(0.02)
    assert list(out.glob(".export-*.part")), "the pull never started writing"
    proc.kill()  # mid-export: the temporary file exists, the export does not yet
    proc.wait()
    assert not list(out.glob("export-*")), "a killed pull left an export (or its sidecar) under its final name"
    done = subprocess.run([sys.executable, "-m", "srcrel.cli", "pull", *args], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    exports = [p for p in out.glob("export-*.json") if not p.name.endswith(".meta.json")]
    assert len(exports) == 1 and len(json.loads(exports[0].read_bytes())) == 3000
