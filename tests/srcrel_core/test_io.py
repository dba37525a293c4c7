from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from srcrel_core.errors import InputError
from srcrel_core.io import LabelRecord, atomic_write, read_label_records, staged_output

LABELS = ("sourced", "opinion", "unverifiable")


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    atomic_write(target, "old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_a_private_file_is_0600(tmp_path: Path) -> None:
    secret = tmp_path / "credentials.json"
    atomic_write(secret, '{"token": "x"}', private=True)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_staged_output_leaves_nothing_when_the_work_fails(tmp_path: Path) -> None:
    out = tmp_path / "new-dir"
    with pytest.raises(RuntimeError), staged_output(out) as staging:
        (staging / "half.json").write_text("{")
        raise RuntimeError("boom")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    kept = tmp_path / "existing"
    kept.mkdir()
    (kept / "old.txt").write_text("keep")
    with pytest.raises(RuntimeError), staged_output(kept) as staging:
        raise RuntimeError("boom")
    assert (kept / "old.txt").read_text() == "keep"


def test_jsonl_and_csv_give_the_same_records(tmp_path: Path) -> None:
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"task": "s1", "label": "opinion"}\n\n{"sentence_id": "s2", "label": "sourced"}\n')
    csv = tmp_path / "a.csv"
    csv.write_text("task,label\ns1,opinion\ns2,sourced\n")
    kwargs = {"label_names": LABELS, "what": "adjudications", "fix": "fix it", "id_fields": ("task", "sentence_id")}
    from_jsonl = read_label_records(jsonl, **kwargs)  # type: ignore[arg-type]
    from_csv = read_label_records(csv, **kwargs)  # type: ignore[arg-type]
    assert [(r.sentence_id, r.label) for r in from_jsonl] == [(r.sentence_id, r.label) for r in from_csv]
    assert [r.line for r in from_jsonl] == [1, 3] and [r.line for r in from_csv] == [2, 3]


def test_text_instead_of_an_id_only_where_allowed(tmp_path: Path) -> None:
    path = tmp_path / "ref.jsonl"
    path.write_text('{"file": "a.txt", "text": "Il pleut.", "label": "unverifiable"}\n')
    records = read_label_records(path, label_names=LABELS, what="reference", fix="f", allow_text=True)
    assert records == [LabelRecord(line=1, label="unverifiable", text="Il pleut.")]
    with pytest.raises(InputError, match=r"ref.jsonl:1: no sentence_id \(this looks like an ingest reference"):
        read_label_records(path, label_names=LABELS, what="reference", fix="f")
