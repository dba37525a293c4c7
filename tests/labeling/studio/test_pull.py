import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labeling.annotations.export import parse_export
from labeling.studio import api
from labeling.studio.config import PullConfig, PushConfig, StudioSettings
from labeling.studio.connection import resolve_connection
from labeling.studio.pull import pull_export
from labeling.studio.push import push_tasks
from srcrel.cli import compose_stage_config
from srcrel_core.errors import StudioError
from srcrel_core.settings import to_dataclass

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.studio


def _studio_args(s: StudioSettings) -> list[str]:
    return [f"studio.port={s.port}", f"studio.data_dir={s.data_dir}", f"studio.executable={s.executable}"]


def pull(settings: StudioSettings, name: str, out: Path) -> Any:
    cfg = compose_stage_config("pull", [f"project.name={name}", f"output_dir={out}", *_studio_args(settings)])
    return pull_export(to_dataclass(cfg, PullConfig))


def _choice(label: str) -> list[dict[str, Any]]:
    return [{"from_name": "label", "to_name": "sentence", "type": "choices", "value": {"choices": [label]}}]


def test_pull_round_trip_keeps_skips_ground_truth_and_bytes(
        studio_settings: StudioSettings, tmp_path: Path, ingest_dir: Callable[..., Path]) -> None:
    cfg = compose_stage_config("push", [f"input={ingest_dir(4)}", "project.name=round-trip",
                                        f"state_dir={tmp_path}", f"guidelines={REPO / 'docs/guidelines.md'}",
                                        *_studio_args(studio_settings)])
    pushed = push_tasks(to_dataclass(cfg, PushConfig))
    client = api.connect(resolve_connection(studio_settings))
    annotator = api.create_user(client, "rt-annotator@example.com")
    tasks = {sid: tid for tid, sid in api.list_task_refs(client, pushed.project_id)}
    client.annotations.create(tasks["s000000"], result=_choice("opinion"), completed_by=annotator.id)
    client.annotations.create(tasks["s000000"], result=_choice("sourced"), ground_truth=True)
    client.annotations.create(tasks["s000001"], result=[], was_cancelled=True, completed_by=annotator.id)
    client.predictions.create(task=tasks["s000002"], result=_choice("unverifiable"), score=0.7,
                              model_version="m1")
    client.annotations.create(tasks["s000002"], result=_choice("unverifiable"))

    result = pull(studio_settings, "round-trip", tmp_path / "exports")
    raw = result.export_path.read_bytes()
    meta = json.loads(result.meta_path.read_text())
    assert result.export_path.name.startswith("export-round-trip-") and result.export_path.suffix == ".json"
    assert result.meta_path.name == result.export_path.name + ".meta.json"
    assert meta["sha256"] == hashlib.sha256(raw).hexdigest() == result.sha256
    assert meta["guidelines_version"] == pushed.guidelines_version
    assert meta["project_settings"]["maximum_annotations"] == 1 and "<Choices" in meta["label_config"]
    assert sorted(p.name for p in result.export_path.parent.iterdir()) == sorted(
        [result.export_path.name, result.meta_path.name])  # no temporary file left

    export = {t["data"]["sentence_id"]: t for t in json.loads(raw)}
    assert set(export) == {"s000000", "s000001", "s000002"}  # only tasks with annotations
    first = export["s000000"]["annotations"]
    assert sorted(a["ground_truth"] for a in first) == [False, True]
    assert {a["completed_by"]["email"] for a in first} == {"rt-annotator@example.com", "admin@srcrel.local"}
    skip = export["s000001"]["annotations"][0]
    assert skip["was_cancelled"] is True and skip["result"] == []
    prediction = export["s000002"]["predictions"][0]
    assert prediction["model_version"] == "m1" and prediction["result"][0]["value"]["choices"] == ["unverifiable"]
    assert export["s000000"]["meta"]["guidelines_version"] == pushed.guidelines_version

    # the next stage reads it as is: the sidecar's sha256 is checked, every annotation accounted for
    parsed = parse_export(result.export_path, label_names=("sourced", "opinion", "unverifiable"))
    assert parsed.sha256 == result.sha256
    assert sorted(parsed.annotations["label"]) == ["opinion", "unverifiable"]
    assert parsed.ground_truth.to_dict() == {"s000000": "sourced"}
    assert "cancelled" in set(parsed.dropped["reason"])


def test_pull_of_an_unknown_project_fails_and_writes_nothing(studio_settings: StudioSettings,
                                                             tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="no project named 'does-not-exist'"):
        pull(studio_settings, "does-not-exist", tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
