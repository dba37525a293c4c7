"""Answers beyond a sentence's configured overlap: counted from the export, kept or dropped."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from labeling.annotations.export import parse_export
from labeling.annotations.overlap import OverlapAnswers, apply_overlap, configured_overlap
from tests.labeling.annotations.test_export import _ann, _task
from tests.labeling.conftest import LABELS, choice, write_tasks


def _export(tmp_path: Path, *, project_overlap: int | None) -> Path:
    """s1 asks for 2 answers and got 4 (one skipped); s2 asks for 1 and got 2; s3 has no record
    of its own (the project's maximum_annotations applies) and got 3."""
    hour = "2026-01-01T{:02d}:00:00Z".format
    path = write_tasks(tmp_path / "export.json", [
        _task(1, "s1", [_ann(1, 1, choice("opinion"), created=hour(9)),
                        _ann(2, 2, choice("sourced"), created=hour(8)),
                        _ann(3, 3, choice("opinion"), created=hour(10)),
                        _ann(4, 4, [], was_cancelled=True, created=hour(7)),
                        _ann(5, 5, choice("sourced"), created=hour(11))], srcrel_overlap="2"),
        _task(2, "s2", [_ann(6, 1, choice("opinion"), created=hour(9)),
                        _ann(7, 2, choice("opinion"), created=hour(8))], srcrel_overlap="1"),
        _task(3, "s3", [_ann(8, 1, choice("opinion")), _ann(9, 2, choice("opinion")),
                        _ann(10, 3, choice("opinion"))]),
    ])
    if project_overlap is not None:  # what `srcrel pull` writes beside the export
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        sidecar = {"sha256": sha, "project_settings": {"maximum_annotations": project_overlap}}
        path.with_name(path.name + ".meta.json").write_text(json.dumps(sidecar))
    return path


def test_answers_past_the_overlap_are_counted_and_all_kept_by_default(tmp_path: Path) -> None:
    parsed = parse_export(_export(tmp_path, project_overlap=2), label_names=LABELS)
    assert configured_overlap(parsed).to_dict() == {"s1": 2, "s2": 1, "s3": 2}
    same, report = apply_overlap(parsed, OverlapAnswers.all)
    # s1: 4 answered (the skip is no answer) for 2; s2: 2 for 1; s3: 3 for 2
    assert (report.items_over, report.answers_beyond, report.dropped) == (3, 4, 0)
    assert report.configured == {"2": 2, "1": 1}
    assert len(same.annotations) == len(parsed.annotations) == 9
    assert "3 sentences got more answers than their configured overlap (4 extra" in report.statement


def test_first_k_keeps_the_earliest_answers_and_the_counts_reconcile(tmp_path: Path) -> None:
    parsed = parse_export(_export(tmp_path, project_overlap=2), label_names=LABELS)
    trimmed, report = apply_overlap(parsed, "first")
    kept = trimmed.annotations.groupby("task", observed=True)["annotation_id"].apply(sorted).to_dict()
    assert kept == {"s1": [1, 2], "s2": [7], "s3": [8, 9]}  # by created_at, then id
    rec = trimmed.reconciliation
    assert rec.dropped["over_overlap"] == report.dropped == 4 and rec.balanced and rec.exported == 10
    assert set(trimmed.dropped.loc[trimmed.dropped["reason"] == "over_overlap", "annotation_id"]) == {3, 5, 6, 10}


def test_without_any_record_the_overlap_is_unknown_and_nothing_is_over(tmp_path: Path) -> None:
    parsed = parse_export(_export(tmp_path, project_overlap=None), label_names=LABELS)
    _, report = apply_overlap(parsed, "first")
    assert report.configured == {"2": 1, "1": 1, "unknown": 1}
    assert (report.items_over, report.dropped) == (2, 3)  # s3 has no limit to be over
