"""`srcrel loop` on the real Label Studio with the bundled example corpus: rounds are seeded, never
repeat a sentence, keep the audit share and batch size; a killed round is pushed unchanged;
pre-annotation, origin, round and audit reach the dataset."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from datasets import load_from_disk

import srcrel.loop.run as loop_run
from labeling.dataset.build import run_build
from labeling.dataset.config import BuildConfig
from labeling.ingest.config import IngestConfig
from labeling.ingest.run import run_ingest
from labeling.studio import api
from labeling.studio.config import InterfaceSettings, SimulateConfig, StudioSettings
from labeling.studio.connection import resolve_connection
from labeling.studio.context import add_context
from labeling.studio.simulate import run_simulation
from srcrel.cli import compose_stage_config
from srcrel.loop.config import LoopConfig
from srcrel.loop.learner import pool_frame, score_frame
from srcrel.loop.run import loop_next, loop_status, read_rounds
from srcrel.loop.strategy import uncertainty_scores
from srcrel_core.settings import to_dataclass
from tests.conftest import EXAMPLES, REPO_ROOT
from tests.labeling.studio.test_pull import pull
from training.models import load_model

pytestmark = [pytest.mark.studio, pytest.mark.slow]
ANNOTATORS = ["loop-a@example.org", "loop-b@example.org"]


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pool") / "ingest"
    run_ingest(to_dataclass(compose_stage_config("ingest", [
        f"input={EXAMPLES / 'articles'}", f"output_dir={out}", f"reference={EXAMPLES / 'reference_labels.jsonl'}",
        "progress=never"]), IngestConfig))
    return out


def _studio(s: StudioSettings) -> list[str]:
    return [f"studio.port={s.port}", f"studio.public_port={s.public_port}", f"studio.data_dir={s.data_dir}",
            f"studio.executable={s.executable}"]


def _loop(studio: StudioSettings, pool: Path, work: Path, name: str, *extra: str) -> LoopConfig:
    return to_dataclass(compose_stage_config("loop", [
        "action=next", f"pool={pool}", f"project.name={name}", "batch_size=30", f"output_dir={work / name}",
        f"state_dir={work / 'state'}", f"guidelines={REPO_ROOT / 'docs/guidelines.md'}", "progress=never",
        f"annotators=[{','.join(ANNOTATORS)}]", "loop.n_boot=200", "model=tfidf_logreg", "loop.strategy=uncertainty",
        *extra, *_studio(studio)]), LoopConfig)


def _simulate(studio: StudioSettings, pool: Path, work: Path, name: str, anchoring: float = 0.0) -> None:
    people = ",".join(f"{{email:{e},accuracy:0.9,anchoring:{anchoring}}}" for e in ANNOTATORS[:1])
    run_simulation(to_dataclass(compose_stage_config("simulate", [
        f"project.name={name}", f"reference={pool / 'reference_labels.jsonl'}", f"state_dir={work / 'state'}",
        f"annotators=[{people}]", "progress=never", *_studio(studio)]), SimulateConfig))


def _tasks(studio: StudioSettings, name: str) -> list[dict[str, Any]]:
    client = api.connect(resolve_connection(studio))
    project = api.find_project(client, name)
    assert project is not None
    tasks = [client.tasks.get(str(tid)) for tid, _ in api.list_task_refs(client, project.id)]
    assert all(not any(k.startswith("loop_") for k in t.data) for t in tasks)  # bookkeeping: never in data
    return [{**t.data, **t.meta} for t in tasks]  # the loop's record is in meta


def test_rounds_are_seeded_never_repeat_and_keep_the_audit_share(
        studio_settings: StudioSettings, pool: Path, tmp_path: Path) -> None:
    chosen: dict[str, list[set[str]]] = {}
    for name in ("loop-seeded-a", "loop-seeded-b"):  # the same pool, seed and answers: the same rounds
        first = loop_next(_loop(studio_settings, pool, tmp_path, name))
        assert first["round"] == 0 and first["pushed"] == 30 and first["model_version"] is None
        assert first["by_strategy"] == {"audit": 6, "cold_random": 24}
        _simulate(studio_settings, pool, tmp_path, name)
        second = loop_next(_loop(studio_settings, pool, tmp_path, name))
        assert second["round"] == 1 and second["pushed"] == 30 and second["by_strategy"] == {"audit": 6, "uncertainty": 24}
        assert second["train"] + second["audit_labels"] == second["labels"] > 20
        low, high = second["audit_macro_f1_ci"]
        assert 0 <= low <= second["audit_macro_f1"] <= high <= 1

        data = _tasks(studio_settings, name)
        sids = [d["sentence_id"] for d in data]
        assert len(sids) == len(set(sids)) == 60  # never re-selected
        assert Counter((d["loop_round"], d["loop_audit"]) for d in data) == {
            (0, True): 6, (0, False): 24, (1, True): 6, (1, False): 24}
        chosen[name] = [{d["sentence_id"] for d in data if d["loop_round"] == r} for r in (0, 1)]

        # the uncertainty part of round 1 is the 24 least certain of what was left after the audit draw
        round1 = [d for d in data if d["loop_round"] == 1]
        model = load_model(tmp_path / name / "round-001" / "model.skops")
        rows = {r["data"]["sentence_id"]: r["data"] for r in json.loads((pool / "tasks.json").read_text())}
        left = [sid for sid in rows if sid not in chosen[name][0] and sid not in
                {d["sentence_id"] for d in round1 if d["loop_audit"]}]
        frame = pool_frame(add_context([rows[s] for s in left], InterfaceSettings()))
        scores = uncertainty_scores(score_frame(model, frame, ("sourced", "opinion", "unverifiable")).proba)
        top = {left[i] for i in np.argsort(-scores, kind="stable")[:24]}
        assert {d["sentence_id"] for d in round1 if not d["loop_audit"]} == top
        assert all(d["loop_score"] == pytest.approx(scores[left.index(d["sentence_id"])], abs=1e-9)
                   for d in round1 if not d["loop_audit"])

        log = read_rounds(tmp_path / name / "rounds.jsonl", name)
        assert [r["round"] for r in log] == [0, 1]
        status = loop_status(_loop(studio_settings, pool, tmp_path, name, "action=status"))
        assert status[-1]["round"] == "now" and status[-1]["labels"] >= second["labels"]
    assert chosen["loop-seeded-a"] == chosen["loop-seeded-b"]
    with pytest.raises(Exception, match="is the log of project 'loop-seeded-a'"):
        read_rounds(tmp_path / "loop-seeded-a" / "rounds.jsonl", "loop-seeded-b")


def test_a_round_killed_before_its_log_line_is_pushed_unchanged(
        studio_settings: StudioSettings, pool: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "loop-killed"
    real_push = loop_run._push

    def killed(*args: Any) -> int:
        raise KeyboardInterrupt  # the operator's Ctrl-C between the round's files and its push

    monkeypatch.setattr(loop_run, "_push", killed)
    with pytest.raises(KeyboardInterrupt):
        loop_next(_loop(studio_settings, pool, tmp_path, name))
    planned = {item["data"]["sentence_id"] for item in json.loads(
        (tmp_path / name / "round-000" / "tasks.json").read_text())}
    assert not (tmp_path / name / "rounds.jsonl").exists()
    monkeypatch.setattr(loop_run, "_push", real_push)
    resumed = loop_next(_loop(studio_settings, pool, tmp_path, name, "loop.seed=99"))  # a new seed changes nothing
    assert resumed["round"] == 0 and resumed["imported"] == 30
    assert {d["sentence_id"] for d in _tasks(studio_settings, name)} == planned
    assert loop_next(_loop(studio_settings, pool, tmp_path, name))["round"] == 1


def test_preannotation_origin_round_and_audit_reach_the_dataset(
        studio_settings: StudioSettings, pool: Path, tmp_path: Path) -> None:
    name = "loop-prefill"
    loop_next(_loop(studio_settings, pool, tmp_path, name, "batch_size=40"))
    _simulate(studio_settings, pool, tmp_path, name)
    second = loop_next(_loop(studio_settings, pool, tmp_path, name, "batch_size=60", "loop.preannotate=true",
                             "loop.anchoring_check=true"))
    items = json.loads((tmp_path / name / "round-001" / "tasks.json").read_text())
    prefilled = [i for i in items if i["meta"]["loop_prefilled"]]
    control = [i for i in items if not i["meta"]["loop_prefilled"] and not i["meta"]["loop_audit"]]
    assert prefilled and control and second["prefilled"] == len(prefilled)
    assert not any(i["meta"]["loop_audit"] for i in prefilled)  # the audit sample is never pre-filled
    assert all("predictions" not in i for i in control)
    for item in prefilled:
        (prediction,) = item["predictions"]
        assert prediction["model_version"] == second["model_version"] == item["meta"]["loop_model_version"]
        assert 0 < prediction["score"] <= 1
        assert prediction["result"][0]["value"]["choices"] == [item["meta"]["loop_model_label"]]
    _simulate(studio_settings, pool, tmp_path, name, anchoring=0.8)  # through the gateway, as people do

    export = pull(studio_settings, name, tmp_path / "pull").export_path
    built = run_build(to_dataclass(compose_stage_config("build", [
        f"export={export}", f"output_dir={tmp_path / 'built'}", "agreement.bootstrap_n=50",
        "label_issues.enabled=false"]), BuildConfig))
    rows = [r for split in ("train", "validation", "test")
            for r in load_from_disk(str(built.output_dir / "dataset"))[split]]
    by_sid = {r["sentence_id"]: r for r in rows}
    for item in items:
        row = by_sid.get(item["data"]["sentence_id"])
        if row is None:
            continue  # skipped or tied
        assert (row["round"], row["audit"], row["prefilled"]) == (1, item["meta"]["loop_audit"],
                                                                   item["meta"]["loop_prefilled"])
        origins = {a["origin"] for a in row["annotations"]}
        assert origins <= ({"prediction", "prediction-changed"} if row["prefilled"] else {"manual"})
    assert {r["round"] for r in rows} == {0, 1}
    report = json.loads((built.output_dir / "report.json").read_text())["loop"]
    assert report["origins"].get("prediction", 0) > 0
    assert report["prefilled"]["shown_as_prefilled"] == report["prefilled"]["annotations"]
    effect = report["anchoring_effect"]
    assert effect["ci_low"] <= effect["difference"] <= effect["ci_high"] and effect["difference"] > 0
    assert "Anchoring effect" in (built.output_dir / "README.md").read_text()


def test_a_round_log_never_continues_on_a_new_project_of_the_same_name(
        studio_settings: StudioSettings, pool: Path, tmp_path: Path) -> None:
    """Issue 20 item 21: against a fresh project of the same name, the old log went on (rounds 3, 4)."""
    from srcrel_core.errors import InputError

    name = "loop-reborn"
    first = loop_next(_loop(studio_settings, pool, tmp_path, name))
    assert first["round"] == 0 and first["project_id"] and first["server"]
    state = tmp_path / "state" / name
    (state / "controls.jsonl").write_text('{"sentence_id": "x", "label": "opinion"}\n')  # the old project's
    client = api.connect(resolve_connection(studio_settings))
    client.projects.delete(id=first["project_id"])  # the project is gone (or the server is a fresh one)
    with pytest.raises(InputError, match=rf"output_dir={tmp_path / name} holds the round log of '{name}'"):
        loop_next(_loop(studio_settings, pool, tmp_path, name))
    assert len(read_rounds(tmp_path / name / "rounds.jsonl", name)) == 1  # nothing appended
    # a new loop folder starts at round 0 on the new project; the state folder is claimed afresh
    import dataclasses

    again = loop_next(dataclasses.replace(_loop(studio_settings, pool, tmp_path, name), output_dir=str(tmp_path / "fresh")))
    assert again["round"] == 0 and again["project_id"] != first["project_id"]
    assert not (state / "controls.jsonl").exists()  # the old project's control answers are not this one's
