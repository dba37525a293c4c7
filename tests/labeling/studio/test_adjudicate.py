from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from labeling.dataset.build import run_from_config as run_build_from_config
from labeling.studio import api
from labeling.studio.adjudicate import (
    project_title,
    pull_adjudications,
    push_adjudication,
    read_candidates,
)
from labeling.studio.config import AdjudicateConfig, StudioSettings
from labeling.studio.connection import resolve_connection
from srcrel.cli import check_overrides, compose_stage_config
from srcrel_core.errors import ConfigError, InputError
from srcrel_core.settings import to_dataclass

REPO = Path(__file__).resolve().parents[3]
LABELS = ("sourced", "opinion", "unverifiable")
FAST = ["agreement.bootstrap_n=30", "label_issues.n_splits=3", "agreement.plots=false"]


def _build(export: Path, out: Path, *extra: str) -> Any:
    return run_build_from_config(compose_stage_config(
        "build", [f"export={export}", f"output_dir={out}", *FAST, *extra]))


def _config(*overrides: str, settings: StudioSettings | None = None, state: Path | None = None) -> AdjudicateConfig:
    extra = [f"guidelines={REPO / 'docs' / 'guidelines.md'}"]
    if settings is not None:
        extra += [f"studio.port={settings.port}", f"studio.data_dir={settings.data_dir}",
                  f"studio.executable={settings.executable}"]
    if state is not None:
        extra.append(f"state_dir={state}")
    return to_dataclass(compose_stage_config("adjudicate", [*overrides, *extra]), AdjudicateConfig)


def _rows(build_dir: Path) -> pd.DataFrame:
    return pd.concat(pd.read_parquet(build_dir / "parquet" / f"{s}.parquet")
                     for s in ("train", "validation", "test")).set_index("sentence_id")


def _choice(label: str) -> list[dict[str, Any]]:
    return [{"from_name": "label", "to_name": "sentence", "type": "choices", "value": {"choices": [label]}}]


@pytest.mark.studio
def test_push_pull_build_round_trip(studio_settings: StudioSettings, simulated_export: Path,
                                    tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    _build(simulated_export, build_dir)
    queue = pd.read_csv(build_dir / "adjudication_queue.csv", dtype={"task": str})
    ties = queue.loc[queue["reason"] == "tie", "task"].head(2).tolist()
    low = queue.loc[queue["reason"] == "low_agreement", "task"].head(1).tolist()
    assert len(ties) == 2 and len(low) == 1
    crafted = queue[queue["task"].isin(ties + low)]
    crafted.to_csv(build_dir / "adjudication_queue.csv", index=False)  # what a reviewer trimmed

    push = _config("action=push", f"build={build_dir}", "project.name=round",
                   settings=studio_settings, state=tmp_path / "state")
    first = push_adjudication(push)
    assert (first.project_title, first.project_created, first.total, first.imported) == (
        "round-adjudication", True, 3, 3)
    client = api.connect(resolve_connection(studio_settings))
    tasks = {sid: tid for tid, sid in api.list_task_refs(client, first.project_id)}
    assert sorted(tasks) == sorted(ties + low)

    export = {t["data"]["sentence_id"]: t for t in orjson.loads(simulated_export.read_bytes())}
    for sid in ties + low:
        data = client.tasks.get(str(tasks[sid])).data
        earlier = data["earlier_annotations"]
        expected = [f"annotator {a['completed_by']}: {a['result'][0]['value']['choices'][0]}"
                    for a in export[sid]["annotations"]]
        assert earlier.split(" · ")[:-1] == expected
        assert data["sentence"] == export[sid]["data"]["sentence"]
    assert client.tasks.get(str(tasks[ties[0]])).data["earlier_annotations"].endswith(
        "aggregate (majority): tie")
    low_label = _rows(build_dir).loc[low[0], "label"]
    assert client.tasks.get(str(tasks[low[0]])).data["earlier_annotations"].endswith(
        f"aggregate (majority): {LABELS[low_label]}")
    project = api.find_project(client, "round-adjudication")
    assert project is not None and "$earlier_annotations" in project.settings["label_config"]

    again = push_adjudication(push)
    assert (again.project_id, again.project_created, again.imported) == (first.project_id, False, 0)
    assert api.count_tasks(client, first.project_id) == 3

    # two adjudicators: the later answer wins; a skip is no decision
    alice = api.create_user(client, "adj-alice@example.com")
    bob = api.create_user(client, "adj-bob@example.com")
    client.annotations.create(tasks[ties[0]], result=_choice("opinion"), completed_by=alice.id)
    client.annotations.create(tasks[ties[0]], result=_choice("sourced"), completed_by=bob.id)
    client.annotations.create(tasks[ties[1]], result=_choice("unverifiable"), completed_by=alice.id)
    client.annotations.create(tasks[low[0]], result=[], was_cancelled=True, completed_by=bob.id)

    output = tmp_path / "decisions" / "adjudications.jsonl"
    pulled = pull_adjudications(_config("action=pull", "project.name=round", f"output={output}",
                                        settings=studio_settings))
    records = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    assert sorted((r["sentence_id"], r["label"], r["adjudicator"]) for r in records) == sorted(
        [(ties[0], "sourced", str(bob.id)), (ties[1], "unverifiable", str(alice.id))])
    assert all(r["created_at"] for r in records)
    assert (pulled.decisions, pulled.conflicts) == (2, 1)
    assert pulled.export_path.parent == output.parent and pulled.export_path.is_file()

    adjudicated = tmp_path / "adjudicated"
    _build(simulated_export, adjudicated, f"adjudications={output}")
    rows = _rows(adjudicated)
    assert rows.loc[ties[0], "label_source"] == "adjudicated" and rows.loc[ties[0], "label"] == 0
    assert rows.loc[ties[1], "label_source"] == "adjudicated" and rows.loc[ties[1], "label"] == 2
    assert rows.loc[low[0], "label_source"] == "majority"  # skipped: the aggregate stands


def test_label_issues_source_takes_the_top_ranked(simulated_export: Path, tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    _build(simulated_export, build_dir)
    ranked = pd.read_csv(build_dir / "label_issues.csv", dtype={"sentence_id": str})
    assert len(ranked) >= 3
    picked = read_candidates(build_dir, source="label_issues", limit=2)
    assert picked["sentence_id"].tolist() == ranked.sort_values("rank")["sentence_id"].head(2).tolist()
    assert picked["suggested_label"].tolist() == ranked.sort_values("rank")["suggested_label"].head(2).tolist()
    assert len(read_candidates(build_dir, source="queue", limit=0)) == len(
        pd.read_csv(build_dir / "adjudication_queue.csv"))


def test_push_refuses_an_export_the_build_did_not_read(simulated_export: Path, tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    _build(simulated_export, build_dir)
    other = tmp_path / "other.json"
    other.write_bytes(simulated_export.read_bytes().replace(b'"opinion"', b'"sourced"', 1))
    with pytest.raises(InputError, match="is not the export the build"):
        push_adjudication(_config("action=push", f"build={build_dir}", "project.name=x", f"export={other}"))
    simulated_export.rename(tmp_path / "moved.json")
    with pytest.raises(InputError, match="pass export=PATH"):
        push_adjudication(_config("action=push", f"build={build_dir}", "project.name=x"))


@pytest.mark.parametrize(("overrides", "message"), [
    (["action=push", "project.name=x"], "needs build=DIR"),
    (["action=pull", "project.name=x"], "needs output=FILE"),
])
def test_bad_settings_are_one_config_error(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        push_adjudication(_config(*overrides))


@pytest.mark.parametrize(("overrides", "message"), [
    (["action=push", "project.name=x", "build=b", "source=issues"], r"'issues', expected one of \[queue, label_issues\]"),
    (["action=sync", "project.name=x"], r"'sync', expected one of \[push, pull\]"),
])
def test_bad_choices_fail_at_composition(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_overrides("adjudicate", overrides)


def test_project_title_adds_the_suffix_once() -> None:
    assert project_title("news", "-adjudication") == "news-adjudication"
    assert project_title("news-adjudication", "-adjudication") == "news-adjudication"


def test_cli_accepts_the_bare_action_word(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "srcrel.cli", "adjudicate", "push", "project.name=x",
                          f"build={tmp_path / 'missing'}", f"hydra.run.dir={tmp_path / 'run'}"],
                         check=False, cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 1
    missing = tmp_path / "missing" / "report.json"
    assert run.stderr.strip().splitlines() == [
        f"srcrel adjudicate: error: {missing} not found: build= must be a `srcrel build` output dir"]
