import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labeling.studio import api, ledger
from labeling.studio.config import PushConfig, StudioSettings
from labeling.studio.connection import resolve_connection
from labeling.studio.guidelines import read_guidelines
from labeling.studio.ledger import state_dir_for
from labeling.studio.lock import LOCK_PREFIX
from labeling.studio.push import push_tasks
from srcrel.cli import compose_stage_config
from srcrel_core.errors import ConfigError, InputError, StudioError
from srcrel_core.settings import to_dataclass

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.studio


def _args(settings: StudioSettings, input_dir: Path, name: str, state: Path, *extra: str) -> list[str]:
    return [f"input={input_dir}", f"project.name={name}", f"state_dir={state}",
            f"guidelines={REPO / 'docs' / 'guidelines.md'}", f"studio.port={settings.port}",
            f"studio.data_dir={settings.data_dir}", f"studio.executable={settings.executable}", *extra]


def _push(settings: StudioSettings, input_dir: Path, name: str, state: Path, *extra: str) -> Any:
    cfg = compose_stage_config("push", _args(settings, input_dir, name, state, *extra))
    return push_tasks(to_dataclass(cfg, PushConfig))


def _client(settings: StudioSettings) -> Any:
    return api.connect(resolve_connection(settings))


def _sentence_counts(settings: StudioSettings, project_id: int) -> Counter[str]:
    return Counter(sid for _, sid in api.list_task_refs(_client(settings), project_id))


def test_push_creates_then_updates_the_same_project(studio_settings: StudioSettings, tmp_path: Path,
                                                    ingest_dir: Callable[..., Path]) -> None:
    src = ingest_dir(20)
    first = _push(studio_settings, src, "create-update", tmp_path)
    assert first.project_created and first.imported == 20
    second = _push(studio_settings, src, "create-update", tmp_path, "project.maximum_annotations=3")
    assert (second.project_id, second.project_created, second.imported) == (first.project_id, False, 0)
    assert second.changes == ("project.maximum_annotations 1 -> 3",)  # no answer yet: applied, and said
    client = _client(studio_settings)
    project = api.find_project(client, "create-update")
    # Label Studio's own stays 1 (above it, its label stream serves first what others started); each task has 3
    assert project is not None and project.settings["maximum_annotations"] == 1
    assert "overlap=3" in project.settings["description"]
    assert {client.tasks.get(str(t)).overlap for t, _ in api.list_task_refs(client, project.id)} == {3}
    version = first.guidelines_version
    assert f"guidelines_version={version}" in project.settings["description"]
    refs = api.list_task_refs(client, project.id)
    task = client.tasks.get(str(refs[0][0]))
    assert task.meta["guidelines_version"] == version and task.meta["srcrel_batch"]  # bookkeeping: in meta
    assert not {"guidelines_version", "srcrel_batch", "srcrel_overlap"} & set(task.data)


def test_a_change_to_a_project_with_answers_is_refused_unless_forced(studio_settings: StudioSettings,
                                                                      tmp_path: Path,
                                                                      ingest_dir: Callable[..., Path]) -> None:
    """Issue 20, item 2: another label set or overlap on a project with answers changed the
    interface (to OBJ/SUBJ) or the overlap under them, with "project updated"."""
    src = ingest_dir(6)
    first = _push(studio_settings, src, "answered", tmp_path, "project.maximum_annotations=2")
    client = _client(studio_settings)
    task = api.list_task_refs(client, first.project_id)[0][0]
    api.annotate(client, task, from_name="label", to_name="sentence", choice="opinion", lead_time=1.0)
    before = api.find_project(client, "answered")
    for extra, change in ((["label_set=checkthat"], "label set default -> checkthat"),
                          (["project.maximum_annotations=3"], "project.maximum_annotations 2 -> 3"),
                          (["project.maximum_annotations=2", "project.overlap_share=0.5"], "project.overlap_share 1 -> 0.5")):
        with pytest.raises(ConfigError, match=f"already holds 1 answer.*would change {re.escape(change)}.*force=true"):
            _push(studio_settings, src, "answered", tmp_path, *extra)
    after = api.find_project(client, "answered")
    assert after is not None and before is not None and after.settings == before.settings  # nothing written
    assert {client.tasks.get(str(t)).overlap for t, _ in api.list_task_refs(client, first.project_id)} == {2}
    forced = _push(studio_settings, src, "answered", tmp_path, "project.maximum_annotations=3", "force=true")
    assert forced.changes == ("project.maximum_annotations 2 -> 3",)
    overlaps = {t: client.tasks.get(str(t)) for t, _ in api.list_task_refs(client, first.project_id)}
    assert {t.overlap for t in overlaps.values()} == {3} and not any(t.is_labeled for t in overlaps.values())
    lowered = _push(studio_settings, src, "answered", tmp_path, "project.maximum_annotations=1", "force=true")
    assert lowered.changes == ("project.maximum_annotations 3 -> 1",)
    assert client.tasks.get(str(task)).is_labeled  # its one answer now fills it


def test_guidelines_are_escaped_into_the_instructions(studio_settings: StudioSettings, tmp_path: Path,
                                                      ingest_dir: Callable[..., Path]) -> None:
    guide = tmp_path / "guidelines.md"
    guide.write_text("# Rules\n\nNever <script>alert(1)</script> & <b>bold</b>\n\n1. **first**\n2. second\n")
    version, html = read_guidelines(guide)
    assert "<script>" not in html and "&lt;script&gt;" in html and len(version) == 12
    assert "<h3>Rules</h3>" in html and "<strong>first</strong></li>" in html and "second</li>" in html
    assert "list-style-type: decimal" in html  # the numbers show: rules refer to each other by them
    _push(studio_settings, ingest_dir(3), "escaped", tmp_path, f"guidelines={guide}")
    project = api.find_project(_client(studio_settings), "escaped")
    assert project is not None
    assert "&lt;script&gt;" in project.settings["expert_instruction"]
    assert "<script>" not in project.settings["expert_instruction"]
    # stored as sent (Label Studio's own sanitiser changes nothing), so an unchanged push writes nothing
    assert project.settings["expert_instruction"] == html
    shipped = read_guidelines(REPO / "docs" / "guidelines.md")[1]
    _push(studio_settings, ingest_dir(3), "shipped", tmp_path)
    stored = api.find_project(_client(studio_settings), "shipped")
    assert stored is not None and stored.settings["expert_instruction"] == shipped


def test_import_of_2000_twice_holds_2000(studio_settings: StudioSettings, tmp_path: Path,
                                         ingest_dir: Callable[..., Path]) -> None:
    src = ingest_dir(2000)
    first = _push(studio_settings, src, "twice", tmp_path, "chunk_size=700")
    second = _push(studio_settings, src, "twice", tmp_path, "chunk_size=700")
    assert (first.imported, second.imported) == (2000, 0)
    counts = _sentence_counts(studio_settings, first.project_id)
    assert len(counts) == 2000 and set(counts.values()) == {1}
    # a lost ledger is rebuilt from the server, still importing nothing
    (state_dir_for(str(tmp_path), "twice") / "ledger.tsv").unlink()
    assert _push(studio_settings, src, "twice", tmp_path).imported == 0


def test_killed_push_resumes_without_duplicates(studio_settings: StudioSettings, tmp_path: Path,
                                                ingest_dir: Callable[..., Path]) -> None:
    src = ingest_dir(2000)
    args = _args(studio_settings, src, "killed", tmp_path, "chunk_size=100")
    proc = subprocess.Popen([sys.executable, "-m", "srcrel.cli", "push", *args], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ledger_path = state_dir_for(str(tmp_path), "killed") / "ledger.tsv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger_path.is_file() and ledger_path.read_text().count("\n") > 500:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    held = ledger_path.read_text().count("\n") - 1
    assert 0 < held < 2000, "the kill came too late to test a resume"
    result = _push(studio_settings, src, "killed", tmp_path, "chunk_size=100")
    assert result.imported <= 2000 - held
    counts = _sentence_counts(studio_settings, result.project_id)
    assert len(counts) == 2000 and set(counts.values()) == {1}


def test_lost_answer_is_rechecked_not_resent(studio_settings: StudioSettings, tmp_path: Path,
                                             ingest_dir: Callable[..., Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The server commits a chunk but the answer never arrives (a fault we inject: a mock only
    for the lost answer, the import itself is real)."""
    real = api.import_tasks
    calls: list[int] = []

    def lose_first_answer(client: Any, project_id: int, tasks: list[dict[str, Any]], **kw: Any) -> list[int]:
        ids = real(client, project_id, tasks, **kw)
        calls.append(len(tasks))
        if len(calls) == 1:
            raise api.UncertainImport("connection reset after the server committed")
        return ids

    monkeypatch.setattr(ledger.api, "import_tasks", lose_first_answer)
    result = _push(studio_settings, ingest_dir(300), "lost-answer", tmp_path, "chunk_size=100")
    assert calls == [100, 100, 100] and result.imported == 300
    counts = _sentence_counts(studio_settings, result.project_id)
    assert len(counts) == 300 and set(counts.values()) == {1}


def test_timeouts_mid_import_then_rerun_complete_without_duplicates(
        studio_settings: StudioSettings, tmp_path: Path, ingest_dir: Callable[..., Path],
        caplog: pytest.LogCaptureFixture) -> None:
    src = ingest_dir(3000)
    try:  # each 1,500-task request outlives a 0.1 s time-out while the server goes on committing
        _push(studio_settings, src, "timeouts", tmp_path, "chunk_size=1500", "timeout=0.1", "retries=1")
    except StudioError as exc:
        assert "re-run push to resume" in str(exc)
    assert "did not answer in time" in caplog.text  # the time-out really happened
    result = _push(studio_settings, src, "timeouts", tmp_path)
    counts = _sentence_counts(studio_settings, result.project_id)
    assert len(counts) == 3000 and set(counts.values()) == {1}


def test_controls_are_sampled_from_the_reference(studio_settings: StudioSettings, tmp_path: Path,
                                                 ingest_dir: Callable[..., Path]) -> None:
    src = ingest_dir(100)
    reference = tmp_path / "reference.jsonl"
    rows = [{"sentence_id": f"s{i:06d}", "label": ["sourced", "opinion"][i % 2]} for i in range(0, 100, 2)]
    rows.append({"text": "Sentence 1 of the test corpus, said the minister.", "label": "unverifiable"})
    reference.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _push(studio_settings, src, "controls", tmp_path, f"controls.reference={reference}",
                   "controls.fraction=0.1")
    assert result.controls_path is not None
    controls = [json.loads(line) for line in result.controls_path.read_text().splitlines()]
    known = {r.get("sentence_id", "s000001"): r["label"] for r in rows}
    assert len(controls) == 10 and all(known[c["sentence_id"]] == c["label"] for c in controls)
    again = _push(studio_settings, src, "controls", tmp_path, f"controls.reference={reference}",
                  "controls.fraction=0.1")
    assert again.controls_path is not None and again.controls_path.read_text() == result.controls_path.read_text()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"sentence_id": "s000000", "label": "SUBJ"}\n')
    with pytest.raises(InputError, match="bad.jsonl:1: label .SUBJ. is not one of sourced, opinion, unverifiable"):
        _push(studio_settings, src, "controls", tmp_path, f"controls.reference={bad}", "controls.fraction=0.1")


def test_annotator_accounts_get_private_password_files(studio_settings: StudioSettings, tmp_path: Path,
                                                       ingest_dir: Callable[..., Path]) -> None:
    result = _push(studio_settings, ingest_dir(2), "accounts", tmp_path,
                   "annotators=[ann-a@example.com,ann-b@example.com]")
    assert [p.name for p in result.annotator_files] == ["ann-a@example.com.json", "ann-b@example.com.json"]
    passwords = {}
    for path in result.annotator_files:
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        held = json.loads(path.read_text())
        passwords[path.name] = held["password"]
        assert len(held["password"]) >= 16
        # what a lead sends as it is: the gateway's address (never Label Studio's) and the projects
        assert held["address"] == f"http://127.0.0.1:{studio_settings.public_port}"
        assert held["projects"] == [{"id": result.project_id, "title": "accounts",
                                     "label": f"{held['address']}/projects/{result.project_id}/data?labeling=1"}]
    second = _push(studio_settings, ingest_dir(3), "accounts-2", tmp_path, "annotators=[ann-a@example.com]",
                   "studio.public_url=https://label.example.org/")
    held = json.loads(second.annotator_files[0].read_text())
    assert held["password"] == passwords["ann-a@example.com.json"]  # kept: the annotator may use it already
    assert held["address"] == "https://label.example.org"
    assert [p["title"] for p in held["projects"]] == ["accounts", "accounts-2"]
    emails = {u.email for u in api.list_users(_client(studio_settings))}
    assert {"ann-a@example.com", "ann-b@example.com"} <= emails
    token = api.get_user_token(studio_settings, "ann-a@example.com")
    assert len(token) == 40


def test_external_server_wrong_token_and_right_token(studio_settings: StudioSettings, tmp_path: Path,
                                                     ingest_dir: Callable[..., Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{studio_settings.port}"
    token = json.loads((Path(studio_settings.data_dir) / "credentials.json").read_text())["token"]
    src = ingest_dir(5)
    monkeypatch.setenv("LABEL_STUDIO_URL", url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "0" * 40)
    with pytest.raises(StudioError, match="rejected the API token"):
        _push(studio_settings, src, "external", tmp_path, "studio.data_dir=/nonexistent")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", token)
    result = _push(studio_settings, src, "external", tmp_path, "studio.data_dir=/nonexistent")
    assert result.imported == 5 and result.url == url


def test_label_config_rejected_by_the_server_shows_its_reason(
        studio_settings: StudioSettings, tmp_path: Path, ingest_dir: Callable[..., Path]) -> None:
    """A project labeled under an older interface (a control tag ours lacks): the server refuses
    the new config, and push says why."""
    result = _push(studio_settings, ingest_dir(2), "reject", tmp_path)
    client = _client(studio_settings)
    task_id = api.list_task_refs(client, result.project_id)[0][0]
    client.annotations.create(task_id, result=[{"from_name": "relevance", "to_name": "sentence",
                                                "type": "choices", "value": {"choices": ["high"]}}])
    with pytest.raises(StudioError, match="updating project 'reject': Label Studio answered 400: "
                                          "label_config: Created annotations are incompatible.*relevance"):
        _push(studio_settings, ingest_dir(2), "reject", tmp_path, "project.maximum_annotations=2", "force=true")
    # an unchanged project is not re-sent, so a plain re-run still works
    assert _push(studio_settings, ingest_dir(2), "reject", tmp_path).imported == 0


def test_input_errors_are_one_line_with_the_fix(studio_settings: StudioSettings, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="run `srcrel ingest`"):
        _push(studio_settings, tmp_path, "nothing", tmp_path)
    (tmp_path / "tasks.json").write_text('[{"data": {"sentence": "x"}}]')
    with pytest.raises(InputError, match="task 0 has no data.sentence_id"):
        _push(studio_settings, tmp_path, "nothing", tmp_path)
    (tmp_path / "tasks.json").write_text('[{"data": {"sentence_id": "x1", "sentence": "x"}}]')
    with pytest.raises(ConfigError, match="guidelines file"):
        _push(studio_settings, tmp_path, "nothing", tmp_path, "guidelines=/nope.md")
    assert api.find_project(_client(studio_settings), "nothing") is None


def test_cli_push_failure_is_one_line(studio_settings: StudioSettings, tmp_path: Path,
                                      ingest_dir: Callable[..., Path]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LABEL_STUDIO_URL": f"http://127.0.0.1:{studio_settings.port}",
           "LABEL_STUDIO_API_KEY": "f" * 40}
    out = subprocess.run([sys.executable, "-m", "srcrel.cli", "push",
                          *_args(studio_settings, ingest_dir(3), "cli", tmp_path)],
                         capture_output=True, check=False, text=True, cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert out.stderr.startswith("srcrel push: error:") and "rejected the API token" in out.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(".hydra" in p.parts for p in written)  # the run dir exists, and holds no key
    assert not any("f" * 40 in p.read_text(errors="replace") for p in written)


def test_real_ingest_output_with_its_reference_labels_as_controls(
        studio_settings: StudioSettings, tmp_path: Path) -> None:
    from labeling.ingest.config import IngestConfig
    from labeling.ingest.run import run_ingest
    from tests.conftest import EXAMPLES

    out = tmp_path / "ingest"
    run_ingest(IngestConfig(input=str(EXAMPLES / "articles"), output_dir=str(out), progress="never",
                            reference=str(EXAMPLES / "reference_labels.jsonl")))
    n_tasks = len(json.loads((out / "tasks.json").read_text()))
    result = _push(studio_settings, out, "examples", tmp_path, "controls.fraction=0.1")
    assert result.imported == n_tasks and result.controls_path is not None
    controls = [json.loads(line) for line in result.controls_path.read_text().splitlines()]
    assert len(controls) == round(0.1 * n_tasks)
    assert {c["label"] for c in controls} <= {"sourced", "opinion", "unverifiable"}


def _markers(settings: StudioSettings, name: str) -> list[api.Marker]:
    return api.list_markers(_client(settings), f"{LOCK_PREFIX}{name}")


def test_two_pushes_at_once_make_one_project_with_each_sentence_once(
        studio_settings: StudioSettings, tmp_path: Path, ingest_dir: Callable[..., Path]) -> None:
    """Two operators (separate state dirs, as on two machines) push the same input at the same
    moment to a project that does not exist yet."""
    src = ingest_dir(1500)
    procs = [subprocess.Popen([sys.executable, "-m", "srcrel.cli", "push",
                               *_args(studio_settings, src, "racing", tmp_path / f"op{i}", "chunk_size=300")],
                              cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    try:
        outs = [proc.communicate(timeout=300) for proc in procs]
    except subprocess.TimeoutExpired:  # on a hang, show what both said, not one timeout
        for proc in procs:
            proc.kill()
        pytest.fail(f"a push hung: {[proc.communicate() for proc in procs]}")
    assert [proc.returncode for proc in procs] == [0, 0], outs
    lines = [next(line for line in out.splitlines() if line.startswith("project ")) for out, _ in outs]
    imported = sorted(int(line.split(": ")[1].split(" task")[0]) for line in lines)
    assert imported == [0, 1500], outs  # the second waited for the first, then found nothing to do
    assert sum("is running" in out + err and "waiting up to" in out + err for out, err in outs) == 1, outs
    client = _client(studio_settings)
    project = api.find_project(client, "racing")  # raises if two projects have the title
    assert project is not None
    counts = _sentence_counts(studio_settings, project.id)
    assert len(counts) == 1500 and set(counts.values()) == {1}
    assert _markers(studio_settings, "racing") == []


def test_a_held_lock_makes_a_second_push_fail_in_one_line_and_a_dead_one_is_taken_over(
        studio_settings: StudioSettings, tmp_path: Path, ingest_dir: Callable[..., Path]) -> None:
    src = ingest_dir(10)
    client = _client(studio_settings)
    title = f"{LOCK_PREFIX}held"
    live = api.create_marker(client, title, f"host=elsewhere pid={os.getpid()} since=2099-01-01T00:00:00+00:00")
    with pytest.raises(StudioError, match="another push to project 'held' is running .*host=elsewhere") as err:
        _push(studio_settings, src, "held", tmp_path, "lock_wait=1")
    assert "\n" not in str(err.value) and "push.lock_wait" in str(err.value)
    assert [m.id for m in _markers(studio_settings, "held")] == [live]  # the loser removed its own marker
    assert api.find_project(client, "held") is None  # and did nothing else
    api.delete_project(client, live)
    gone = subprocess.Popen(["true"])  # a pid that no longer runs: its push died
    gone.wait()
    machine = f"host={socket.gethostname()} node={uuid.getnode():x}"
    api.create_marker(client, title, f"{machine} pid={gone.pid} since=2099-01-01T00:00:00+00:00")
    assert _push(studio_settings, src, "held", tmp_path, "lock_wait=0").imported == 10
    assert _markers(studio_settings, "held") == []


def test_duplicates_are_deleted_in_bulk_keeping_annotated_ones(studio_settings: StudioSettings,
                                                                tmp_path: Path,
                                                                ingest_dir: Callable[..., Path]) -> None:
    result = _push(studio_settings, ingest_dir(5), "bulk-heal", tmp_path)
    client = _client(studio_settings)
    again = [{"data": client.tasks.get(str(task_id)).data}
             for task_id, _ in api.list_task_refs(client, result.project_id)]
    extra = api.import_tasks(client, result.project_id, again, timeout=60)  # every sentence twice
    api.annotate(client, extra[0], from_name="label", to_name="sentence", choice="opinion", lead_time=1.0)
    requests: list[str] = []
    client._client_wrapper.httpx_client.httpx_client.event_hooks["request"].append(
        lambda request: requests.append(f"{request.method} {request.url.path}"))
    deleted = api.delete_tasks(client, result.project_id, extra)
    assert deleted == extra[1:]  # the answered duplicate stays: its answer is somebody's work
    assert requests.count("POST /api/dm/actions/") == 1 and not any(r.startswith("DELETE") for r in requests)
    assert _sentence_counts(studio_settings, result.project_id)["s000000"] == 2


def test_a_holder_that_exited_unreaped_is_dead() -> None:
    """A push that crashed while its parent (a script, a test) has not reaped it yet is a zombie:
    its pid still exists, but its lock must be taken over, not waited for (CI hung 600 s on it)."""
    from labeling.studio.lock import _machine, _stale

    exited = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _process_state(exited.pid) != "Z":
        time.sleep(0.05)
    assert _process_state(exited.pid) == "Z"  # exited, not reaped
    marker = api.Marker(1, f"{_machine()} pid={exited.pid} since=2099-01-01T00:00:00+00:00", "")
    assert _stale(marker, stale_after=21_600)
    exited.wait()


def test_a_marker_naming_this_very_process_is_its_own_leftover() -> None:
    """A marker holding this process's own pid that is not the one it just made is a leftover of its own
    (a create request the client retried after the server had stored it): waiting for it is waiting for
    itself (the SQLite race test hung 300 s on it, both pushes waiting for one of them)."""
    from labeling.studio.lock import _machine, _stale

    marker = api.Marker(1, f"{_machine()} pid={os.getpid()} since=2099-01-01T00:00:00+00:00", "")
    assert _stale(marker, stale_after=21_600)


def _process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_push_failing_while_it_contends_for_the_lock_leaves_no_marker(
        studio_settings: StudioSettings, tmp_path: Path, ingest_dir: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    src = ingest_dir(5)

    def unreachable(*_: Any, **__: Any) -> list[api.Marker]:
        raise StudioError("Label Studio stopped answering")

    monkeypatch.setattr(api, "list_markers", unreachable)  # a fault between taking a marker and comparing
    with pytest.raises(StudioError, match="stopped answering"):
        _push(studio_settings, src, "contended", tmp_path)
    monkeypatch.undo()
    assert _markers(studio_settings, "contended") == []  # a marker left here would block every later push
