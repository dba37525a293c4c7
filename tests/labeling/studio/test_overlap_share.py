"""A campaign that double-codes a sample: project.overlap_share, through to the build."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from labeling.annotations.export import parse_export
from labeling.dataset.build import run_build
from labeling.dataset.config import BuildConfig
from labeling.studio import api
from labeling.studio.config import PushConfig, SimulateConfig, StudioSettings
from labeling.studio.connection import gateway_url, resolve_connection
from labeling.studio.push import in_overlap_sample, push_tasks
from labeling.studio.simulate import run_simulation
from srcrel.cli import compose_stage_config
from srcrel_core.settings import to_dataclass
from tests.labeling.gateway.test_access import _session
from tests.labeling.studio.test_pull import _choice, pull

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.studio
LABELS = ("sourced", "opinion", "unverifiable")


def _studio(s: StudioSettings) -> list[str]:
    return [f"studio.port={s.port}", f"studio.public_port={s.public_port}", f"studio.data_dir={s.data_dir}",
            f"studio.executable={s.executable}"]


def test_a_seeded_share_is_double_coded_and_agreement_is_measured_on_it(
        studio_settings: StudioSettings, tmp_path: Path, ingest_dir: Callable[..., Path]) -> None:
    src = ingest_dir(80, prefix="ov")
    reference = tmp_path / "reference.jsonl"
    reference.write_text("".join(json.dumps({"sentence_id": f"ov{i:06d}", "label": LABELS[i % 3]}) + "\n"
                                 for i in range(80)))
    name, annotators = "double-code-sample", ["ov-a@example.org", "ov-b@example.org"]
    push = to_dataclass(compose_stage_config("push", [
        f"input={src}", f"project.name={name}", "project.maximum_annotations=2", "project.overlap_share=0.25",
        "project.overlap_seed=7", f"state_dir={tmp_path / 'state'}", f"guidelines={REPO / 'docs/guidelines.md'}",
        f"annotators=[{','.join(annotators)}]", *_studio(studio_settings)]), PushConfig)
    result = push_tasks(push)
    sample = {f"ov{i:06d}" for i in range(80) if in_overlap_sample(f"ov{i:06d}", 0.25, 7)}
    assert result.overlapped == len(sample) and 8 < len(sample) < 35  # a seeded quarter, give or take
    client = api.connect(resolve_connection(studio_settings))
    overlaps = {sid: client.tasks.get(str(tid)).overlap for tid, sid in api.list_task_refs(client, result.project_id)}
    assert {sid for sid, k in overlaps.items() if k == 2} == sample and set(overlaps.values()) == {1, 2}
    assert push_tasks(push).imported == 0  # a re-run changes nothing

    sim = to_dataclass(compose_stage_config("simulate", [
        f"project.name={name}", f"reference={reference}", f"state_dir={tmp_path / 'state'}",
        f"annotators=[{{email:{annotators[0]},accuracy:0.9}},{{email:{annotators[1]},accuracy:0.7}}]",
        *_studio(studio_settings)]), SimulateConfig)
    simulated = run_simulation(sim)  # through the label stream, as real annotators
    assert simulated.annotations_created == 80 + len(sample)

    export = pull(studio_settings, name, tmp_path / "pull").export_path
    answers = Counter(parse_export(export, label_names=LABELS).annotations["task"].astype(str))
    assert {sid for sid, n in answers.items() if n == 2} == sample
    assert sum(answers.values()) == 80 + len(sample) and max(answers.values()) == 2
    built = run_build(to_dataclass(compose_stage_config("build", [
        f"export={export}", f"output_dir={tmp_path / 'built'}", "agreement.bootstrap_n=50"]), BuildConfig))
    report = json.loads((built.output_dir / "report.json").read_text())
    assert report["agreement"]["paired_items"] == len(sample)
    assert report["overlap"]["configured"] == {"2": len(sample), "1": 80 - len(sample)}
    assert report["overlap"]["items_over"] == 0
    card = (built.output_dir / "README.md").read_text()
    assert f"Over the {len(sample)} sentences labelled by at least two annotators" in card
    assert "nan" not in card.lower().replace("nanos", "")


def test_concurrent_annotators_through_the_gateway_never_exceed_the_overlap(
        studio_settings: StudioSettings, tmp_path: Path, ingest_dir: Callable[..., Path]) -> None:
    """Eight annotators at once, each looping "next task" -> submit through the gateway on 12
    sentences with overlap 2: Label Studio alone over-assigns on SQLite (its check-then-lock has no
    transaction there); through the gateway no sentence gets a third answer, on either database."""
    emails = [f"race-{n}@example.org" for n in range(8)]
    name = "race-overlap"
    push = to_dataclass(compose_stage_config("push", [
        f"input={ingest_dir(12, prefix='rc')}", f"project.name={name}", "project.maximum_annotations=2",
        f"state_dir={tmp_path}", f"guidelines={REPO / 'docs/guidelines.md'}", f"annotators=[{','.join(emails)}]",
        *_studio(studio_settings)]), PushConfig)
    pushed = push_tasks(push)
    sessions = [_session(studio_settings, json.loads(path.read_text())) for path in pushed.annotator_files]
    base, pid = gateway_url(studio_settings), pushed.project_id
    result = _choice("opinion")
    start = threading.Barrier(len(sessions))

    def annotate(session: requests.Session) -> list[int]:
        start.wait()
        done = []
        while True:
            task = session.post(f"{base}/api/dm/actions?id=next_task&project={pid}", json={}, timeout=120)
            if task.status_code != 200 or not task.json().get("id"):
                return done
            made = session.post(f"{base}/api/tasks/{task.json()['id']}/annotations/?project={pid}",
                                json={"result": result}, timeout=120)
            assert made.status_code == 201, made.text[:200]
            done.append(int(task.json()["id"]))

    with ThreadPoolExecutor(len(sessions)) as pool:
        answered = Counter(t for tasks in pool.map(annotate, sessions) for t in tasks)
    assert sum(answered.values()) == 24 and set(answered.values()) == {2}  # every sentence, exactly twice
