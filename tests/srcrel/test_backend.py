"""`srcrel backend` against the real Label Studio: it registers, its predictions land on tasks, an
annotation retrains it (a new model_version), a crash in training leaves the previous version
serving, and versions survive a restart. The backend runs in this process (uvicorn in a thread),
so a fault is injected where it would really happen: in the trainer's call to fit_baseline."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from labeling.studio import api
from labeling.studio.command import read_status
from labeling.studio.command import run_from_config as run_studio
from labeling.studio.config import ProjectSettings, PushConfig, StudioSettings
from labeling.studio.connection import gateway_url, resolve_connection
from labeling.studio.push import push_tasks
from srcrel.backend.app import predict_tasks
from srcrel.backend.config import BackendConfig
from srcrel.backend.run import Backend, build_backend, register_backend, serve_in_thread
from srcrel.backend.store import ModelStore, Served
from srcrel.backend.trainer import Trainer
from srcrel.cli import compose_stage_config
from srcrel_core.errors import ConfigError
from srcrel_core.settings import to_dataclass
from tests.conftest import free_port, write_ingest_dir

REPO = Path(__file__).resolve().parents[2]
SOURCED = ["The minister said the bridge would reopen on Monday, according to a statement.",
           "According to a police spokesman, the factory was closed after the vote.",
           "The mayor told reporters that the school had been inspected.",
           "Officials said the hospital budget would rise, according to the report."]
OPINION = ["This bridge is a disgrace and the minister should be ashamed.",
           "Frankly, the factory looks like a terrible idea.",
           "It is absurd that anyone still defends the school.",
           "The budget is a shameful waste, and everyone knows it."]
TEXTS = [*SOURCED, *OPINION, "The border crossing was closed on Tuesday.", "Thousands crossed the bridge last week.",
         "The company said the plant would close, a spokesman told reporters.", "What a ridiculous plan this is."]


ANNOTATOR = "backend-annotator@example.org"


@dataclass(frozen=True)
class Project:
    name: str
    id: int
    tasks: dict[int, int]  # index in TEXTS -> task id
    client: Any


def _wait(condition: Callable[[], Any], *, timeout: float = 60.0, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def project(studio_settings: StudioSettings, tmp_path: Path) -> Project:
    name = f"backend-{uuid.uuid4().hex[:8]}"
    src = write_ingest_dir(tmp_path / "ingest", len(TEXTS), texts=dict(enumerate(TEXTS)))
    push = PushConfig(input=str(src), project=ProjectSettings(name=name), guidelines=str(REPO / "docs" / "guidelines.md"),
                      state_dir=str(tmp_path / "push"), studio=studio_settings, annotators=[ANNOTATOR])
    result = push_tasks(push)
    client = api.connect(resolve_connection(studio_settings))
    refs = {sid: tid for tid, sid in api.list_task_refs(client, result.project_id)}
    return Project(name, result.project_id, {i: refs[f"s{i:06d}"] for i in range(len(TEXTS))}, client)


def _config(studio_settings: StudioSettings, project: Project, model_dir: Path, **extra: Any) -> BackendConfig:
    cfg = compose_stage_config("backend", [f"project.name={project.name}", f"port={free_port()}",
                                           f"model_dir={model_dir}", "debounce=0.3", "max_wait=3"])
    config: BackendConfig = to_dataclass(cfg, BackendConfig)
    config.studio = studio_settings
    for key, value in extra.items():
        setattr(config, key, value)
    return config


def _label(project: Project, index: int, label: str) -> None:
    api.annotate(project.client, project.tasks[index], from_name="label", to_name="sentence", choice=label,
                 lead_time=1.0)


def _label_first_six(project: Project) -> None:
    for i in range(3):
        _label(project, i, "sourced")
        _label(project, 4 + i, "opinion")


@pytest.fixture
def running(studio_settings: StudioSettings, project: Project, tmp_path: Path) -> Iterator[tuple[Backend, str]]:
    """A backend on the project, registered, with a first version fitted on six labels."""
    _label_first_six(project)  # before the backend exists: picked up by its start-up retrain
    backend = build_backend(_config(studio_settings, project, tmp_path / "models"), project_id=project.id)
    with serve_in_thread(backend) as url:
        mine = register_backend(backend.config, url)
        assert mine.state == "Connected" and mine.url == url  # Label Studio's own health check and setup passed
        backend.trainer.notify()
        _wait(backend.serving.current, what="the first version")
        yield backend, url


def _version(backend: Backend) -> str | None:
    served = backend.serving.current()
    return served.version if served else None


def _predict(url: str, texts: list[str]) -> dict[str, Any]:
    tasks = [{"id": i, "data": {"sentence": t, "sentence_id": f"x{i}"}} for i, t in enumerate(texts)]
    answer = requests.post(f"{url}/predict", json={"tasks": tasks}, timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


@pytest.mark.studio
@pytest.mark.slow
def test_registered_backend_predicts_on_tasks_and_an_annotation_retrains_it(project: Project,
                                                                           running: tuple[Backend, str]) -> None:
    backend, _ = running
    first = _version(backend)
    assert first is not None and first.startswith("tfidf_logreg-r0-")
    [listed] = api.list_ml_backends(project.client, project.id)
    assert listed.model_version == first  # Label Studio read it from /setup
    # a prediction appears on an unlabelled task, asked for through Label Studio
    api.retrieve_predictions(project.client, project.id, [project.tasks[3], project.tasks[11]])
    [prediction] = api.list_predictions(project.client, project.tasks[3])
    assert prediction.model_version == first and prediction.choices[0] in ("sourced", "opinion")
    assert prediction.score is not None and 0.0 < prediction.score <= 1.0
    # an annotation through the API: Label Studio sends START_TRAINING itself -> a new version
    _label(project, 3, "sourced")
    second = _wait(lambda: (v := _version(backend)) != first and v, what="a retrain after the annotation")
    assert backend.trainer.status().failed == 0
    assert json.loads((Path(backend.config.model_dir) / "current.json").read_text())["version"] == second
    assert {f"{first}.skops", f"{second}.skops"} <= {p.name for p in Path(backend.config.model_dir).iterdir()}
    # Label Studio picks the new version up and predicts again with it
    api.retrieve_predictions(project.client, project.id, [project.tasks[11]])
    versions = {p.model_version for p in api.list_predictions(project.client, project.tasks[11])}
    assert versions == {first, second}


@pytest.mark.studio
@pytest.mark.slow
def test_annotators_see_that_a_backend_exists_but_not_its_url_or_errors(
        studio_settings: StudioSettings, project: Project, running: tuple[Backend, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    _, url = running
    token = api.get_user_token(studio_settings, ANNOTATOR)
    seen = requests.get(f"{gateway_url(studio_settings)}/api/ml", params={"project": project.id}, timeout=30,
                        headers={"Authorization": f"Token {token}"})
    assert seen.status_code == 200
    [backend] = seen.json()
    assert backend["is_interactive"] is False and backend["project"] == project.id  # what the screen reads
    assert not {"url", "error_message", "basic_auth_user", "extra_params", "timeout"} & set(backend)
    assert url not in seen.text
    [direct] = requests.get(f"{resolve_connection(studio_settings).url}/api/ml", params={"project": project.id},
                            timeout=30, headers={"Authorization": f"Token {resolve_connection(studio_settings).api_key}"}
                            ).json()
    assert direct["url"] == url  # the administrator, on Label Studio directly, still sees everything
    listed = [b for b in read_status(studio_settings).ml_backends if b.project_id == project.id]
    assert [(b.url, b.state) for b in listed] == [(url, "Connected")]
    run_studio(compose_stage_config("studio", ["action=status", f"studio.port={studio_settings.port}",
                                               f"studio.data_dir={studio_settings.data_dir}",
                                               f"studio.public_port={studio_settings.public_port}"]))
    assert f"on project {project.id}: {url}, Connected" in capsys.readouterr().out


@pytest.mark.studio
@pytest.mark.slow
def test_a_training_crash_leaves_the_previous_version_serving(project: Project, running: tuple[Backend, str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    backend, url = running
    first = _version(backend)

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("injected fault in fit")

    monkeypatch.setattr("srcrel.backend.trainer.fit_baseline", broken)
    _label(project, 3, "sourced")  # Label Studio sends START_TRAINING; the retrain fails
    _wait(lambda: backend.trainer.status().failed == 1, what="the failed retrain")
    health = requests.get(f"{url}/health", timeout=5).json()
    assert health["status"] == "UP" and health["model_version"] == first
    assert health["training"]["last_error"] == "RuntimeError: injected fault in fit"
    answer = _predict(url, OPINION[:2])
    assert [r["model_version"] for r in answer["results"]] == [first, first]
    api.retrieve_predictions(project.client, project.id, [project.tasks[9]])
    assert [p.model_version for p in api.list_predictions(project.client, project.tasks[9])] == [first]
    # fixed: the next event retrains
    monkeypatch.undo()
    _label(project, 8, "unverifiable")
    _wait(lambda: _version(backend) != first, what="a retrain after the fix")
    assert backend.trainer.status().last_error == ""


@pytest.mark.studio
@pytest.mark.slow
def test_versions_survive_a_restart(studio_settings: StudioSettings, project: Project,
                                    running: tuple[Backend, str]) -> None:
    backend, url = running
    first = _version(backend)
    before = _predict(url, TEXTS)
    again = build_backend(backend.config)  # a new process would do the same: read model_dir
    assert _version(again) == first
    assert predict_tasks(again.serving.current(), [{"data": {"sentence": t}} for t in TEXTS]) == before["results"]


# -- without Label Studio ---------------------------------------------------------------------


def test_only_its_own_url_is_registered(tmp_path: Path) -> None:
    config = BackendConfig(project=ProjectSettings(name="p"), port=9191, model_dir=str(tmp_path))
    for url in ("http://127.0.0.1:9192", "http://localhost:9191", "http://10.0.0.5:9191", "http://127.0.0.1:9191/x"):
        with pytest.raises(ConfigError, match="registers only its own backend"):
            register_backend(config, url)


def test_no_model_answers_an_empty_result_list(tmp_path: Path) -> None:
    backend = build_backend(BackendConfig(project=ProjectSettings(name="p"), port=free_port(),
                                          model_dir=str(tmp_path)))
    with serve_in_thread(backend) as url:
        assert requests.get(f"{url}/health", timeout=5).json()["model_version"] is None
        assert requests.post(f"{url}/setup", json={}, timeout=5).json() == {"model_version": None}
        assert _predict(url, ["Anything."])["results"] == []
        assert requests.post(f"{url}/webhook", json={"action": "PROJECT_UPDATED"}, timeout=5).json()["status"] == "ignored"


def test_a_burst_of_events_retrains_once() -> None:
    calls: list[float] = []
    done = threading.Event()

    def fit() -> str:
        calls.append(time.monotonic())
        done.set()
        return "ok"

    trainer = Trainer(fit, debounce=0.3, max_wait=5).start()
    try:
        start = time.monotonic()
        for _ in range(5):
            trainer.notify()  # returns at once
            time.sleep(0.05)
        assert done.wait(5)
        time.sleep(0.5)
        assert len(calls) == 1 and calls[0] - start >= 0.5  # the last event + the quiet period
        assert trainer.status().trained == 1 and trainer.status().state == "idle"
    finally:
        trainer.stop()


def test_max_wait_bounds_a_long_burst() -> None:
    calls: list[float] = []
    trainer = Trainer(lambda: calls.append(time.monotonic()) or "ok", debounce=0.3, max_wait=0.6).start()
    try:
        start = time.monotonic()
        while time.monotonic() - start < 1.5:  # events every 0.1 s: never 0.3 s of quiet
            trainer.notify()
            time.sleep(0.1)
        assert calls and calls[0] - start < 1.0
    finally:
        trainer.stop()


def test_store_writes_versions_atomically_and_reloads_them(tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    store = ModelStore(tmp_path / "models")
    assert store.load_current() is None
    model = DummyClassifier(strategy="prior").fit(pd.DataFrame({"text": ["a", "b"], "context": ["", ""]}),
                                                   ["sourced", "opinion"])
    store.save(Served("m-r0-aaaa", model, ("sourced", "opinion", "unverifiable")), n_labels=2)
    store.save(Served("m-r0-bbbb", model, ("sourced", "opinion", "unverifiable")), n_labels=2)
    assert store.versions() == ["m-r0-aaaa", "m-r0-bbbb"]
    assert store.load_current().version == "m-r0-bbbb"  # type: ignore[union-attr]
    assert not list((tmp_path / "models").glob(".*.part"))  # no temporary file left behind
    with pytest.raises(Exception, match="safe file name"):
        store.path_of("../evil")


def test_a_sourced_prediction_names_the_source_and_the_tagger_survives_a_restart(tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    from training.span_models import RuleSpanTagger

    frame = pd.DataFrame({"text": ["a", "b"], "context": ["", ""]})
    always = DummyClassifier(strategy="constant", constant="sourced").fit(frame, ["sourced", "opinion"])
    store = ModelStore(tmp_path / "models")
    store.save(Served("m-r0-cccc", always, ("sourced", "opinion", "unverifiable"), tagger=RuleSpanTagger()), n_labels=2)
    served = store.load_current()
    assert served is not None and isinstance(served.tagger, RuleSpanTagger)  # reloaded from m-r0-cccc.spans/
    text = "The bridge will close in May, the mayor said on Monday."
    [prediction] = predict_tasks(served, [{"id": 1, "data": {"sentence": text, "sentence_id": "s1", "lang": "en"}}])
    choice, *spans = prediction["result"]
    assert choice["value"]["choices"] == ["sourced"]
    assert [(s["type"], s["from_name"], s["value"]["text"]) for s in spans] == [("labels", "source_span", "the mayor")]
    assert text[spans[0]["value"]["start"]:spans[0]["value"]["end"]] == "the mayor"
