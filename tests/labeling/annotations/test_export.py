from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pytest

from labeling.annotations.export import DROP_REASONS, parse_export, read_controls
from srcrel_core.errors import ExportError, InputError
from tests.labeling.conftest import LABELS, choice, write_tasks


def _ann(ann_id: int, worker: object, result: list, *, created: str = "2026-01-01T10:00:00Z",
         **extra: object) -> dict:
    return {"id": ann_id, "completed_by": worker, "result": result, "was_cancelled": False,
            "ground_truth": False, "lead_time": 2.5, "created_at": created, **extra}


def _task(task_id: int, sid: str, annotations: list, **data: str) -> dict:
    return {"id": task_id, "data": {"sentence_id": sid, "article_id": "art1", "sentence": f"text {sid}",
                                    "prev_sentence": "", "next_sentence": "", "lang": "en",
                                    "guidelines_version": "abc123", **data},
            "annotations": annotations, "predictions": [], "drafts": []}


SPAN = {"type": "labels", "from_name": "source_span", "to_name": "sentence",
        "value": {"start": 0, "end": 4, "text": "text", "labels": ["Source mention"]}}


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    return write_tasks(tmp_path / "export.json", [
        _task(1, "s1", [
            _ann(1, 1, choice("opinion") + [SPAN]),
            _ann(2, 2, [], was_cancelled=True),                       # skipped
            _ann(3, 3, []),                                          # empty result
            _ann(4, 4, choice("not-a-label")),                       # stored by the API anyway
            _ann(5, 6, choice("opinion") + [{**choice("sourced")[0]}]),  # two choices
        ]),
        _task(2, "s2", [
            _ann(6, 1, choice("sourced"), created="2026-01-01T10:00:00Z"),  # superseded by 7
            _ann(7, 1, choice("opinion"), created="2026-01-01T11:00:00Z"),
            _ann(8, 5, choice("sourced"), ground_truth=True),
            _ann(9, {"id": 2, "email": "ann@example.org", "first_name": "Ann"},
                 choice("unverifiable", origin="prediction")),
        ]),
        # the same sentence imported twice: annotations merge by sentence_id
        _task(3, "s2", [_ann(10, 2, choice("sourced"), created="2025-12-31T09:00:00Z")]),
        _task(4, "s3", []),
    ])


def test_every_annotation_is_kept_or_dropped_with_a_reason(crafted: Path) -> None:
    controls = pd.Series({"s2": "sourced"}, name="label")
    parsed = parse_export(crafted, label_names=LABELS, controls=controls)
    rec = parsed.reconciliation
    assert rec.exported == 10
    assert rec.kept == 3
    assert rec.dropped == {"cancelled": 1, "ground_truth": 1, "empty_result": 1,
                           "multiple_labels": 1, "unknown_label": 1, "superseded": 2, "over_overlap": 0}
    assert rec.balanced and set(rec.dropped) == set(DROP_REASONS)
    by_id = parsed.dropped.set_index("annotation_id")["reason"]
    assert by_id[6] == by_id[10] == "superseded" and by_id[4] == "unknown_label"
    table = parsed.annotations.set_index("annotation_id")
    assert sorted(table.index) == [1, 7, 9]
    assert table.loc[7, "label"] == "opinion" and table.loc[7, "worker"] == "1"
    assert table.loc[9, "worker"] == "2"  # an id, never the email
    assert table.loc[9, "origin"] == "prediction" and table.loc[1, "origin"] == "manual"
    assert table.loc[1, "source_spans"] == [{"start": 0, "end": 4, "text": "text"}] and not table.loc[1, "source_outside"]
    assert table.loc[9, "is_control"] and not table.loc[1, "is_control"]
    assert table.loc[1, "lead_time"] == 2.5 and table.loc[1, "guidelines_version"] == "abc123"
    assert str(table.loc[7, "created_at"]) == "2026-01-01 11:00:00+00:00"
    assert parsed.ground_truth.to_dict() == {"s2": "sourced"}
    assert parsed.n_tasks == 4 and list(parsed.tasks.index) == ["s1", "s2", "s3"]
    assert parsed.tasks.loc["s1", "text"] == "text s1"
    assert "ann@example.org" not in parsed.annotations.to_string()


def test_srcrels_bookkeeping_is_read_from_task_meta_before_data(tmp_path: Path) -> None:
    """push and the loop keep it in meta (annotators never see meta); older projects kept it in data."""
    moved = {**_task(1, "s1", [_ann(1, 1, choice("opinion"))]),
             "meta": {"guidelines_version": "new", "srcrel_overlap": 2, "loop_round": 3, "loop_audit": True,
                      "loop_strategy": "audit", "loop_prefilled": False, "loop_model_label": "sourced"}}
    old = _task(2, "s2", [_ann(2, 1, choice("sourced"))], srcrel_overlap="1", loop_round="0")
    parsed = parse_export(write_tasks(tmp_path / "export.json", [moved, old]), label_names=LABELS)
    tasks = parsed.tasks
    assert (tasks.loc["s1", "guidelines_version"], tasks.loc["s1", "overlap"], tasks.loc["s1", "round"]) == ("new", "2", "3")
    assert (tasks.loc["s1", "audit"], tasks.loc["s1", "model_label"]) == ("true", "sourced")
    assert (tasks.loc["s2", "guidelines_version"], tasks.loc["s2", "overlap"], tasks.loc["s2", "round"]) == ("abc123", "1", "0")


@pytest.mark.parametrize("cut", ["truncated", "garbage", "not_a_list", "empty", "no_sentence_id"])
def test_a_broken_export_fails_in_one_line_naming_file_and_position(crafted: Path, cut: str) -> None:
    raw = crafted.read_bytes()
    broken = {"truncated": raw[: len(raw) // 2], "garbage": raw.replace(b'"annotations"', b"annotations", 1),
              "not_a_list": b'{"tasks": []}', "empty": b"",
              "no_sentence_id": orjson.dumps([{"id": 9, "data": {"text": "x"}, "annotations": []}])}[cut]
    crafted.write_bytes(broken)
    with pytest.raises(ExportError) as info:
        parse_export(crafted, label_names=LABELS)
    message = str(info.value)
    assert "\n" not in message and str(crafted) in message and "byte" in message
    if cut == "truncated":
        assert f"byte {len(broken)}" in message and "truncated" in message


def test_sidecar_sha256_must_match(crafted: Path) -> None:
    sidecar = crafted.with_name(crafted.name + ".meta.json")
    sidecar.write_bytes(orjson.dumps({"sha256": "0" * 64}))
    with pytest.raises(ExportError, match="changed after"):
        parse_export(crafted, label_names=LABELS)


def test_controls_file_validates_labels(tmp_path: Path) -> None:
    path = tmp_path / "controls.jsonl"
    path.write_text('{"sentence_id": "s1", "label": "opinion"}\n\n{"sentence_id": 7, "label": "sourced"}\n')
    assert read_controls(path, label_names=LABELS).to_dict() == {"s1": "opinion", "7": "sourced"}
    path.write_text('{"sentence_id": "s1", "label": "nope"}\n')
    with pytest.raises(InputError, match=r"controls.jsonl:1: label 'nope'"):
        read_controls(path, label_names=LABELS)
