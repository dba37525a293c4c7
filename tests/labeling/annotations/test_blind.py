from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from labeling.annotations.blind import blind_status, read_gateway_record


def test_blind_only_when_every_annotation_went_through_the_gateway() -> None:
    ids = pd.Series([11, 12, 13])
    yes = blind_status(ids, {11, 12, 13, 99})
    assert yes["blind"] is True and yes["statement"].startswith("Blind: yes. All 3 annotations")
    no = blind_status(ids, {11})
    assert no["blind"] is False and no["through_gateway"] == 1
    assert no["statement"].startswith("Blind: no. 2 of 3 annotations were made directly")
    unknown = blind_status(ids, None)
    assert unknown["blind"] is None and unknown["statement"].startswith("Blind: unknown.")
    assert blind_status(pd.Series([], dtype=float), set())["blind"] is False


def test_the_record_comes_from_the_pull_sidecar(tmp_path: Path) -> None:
    export = tmp_path / "export-x.json"
    export.write_text("[]")
    assert read_gateway_record(export) is None  # no sidecar
    sidecar = export.with_name(export.name + ".meta.json")
    sidecar.write_text(json.dumps({"sha256": "x", "gateway_annotations": None}))
    assert read_gateway_record(export) is None  # an external server
    sidecar.write_text(json.dumps({"sha256": "x", "gateway_annotations": [3, 1]}))
    assert read_gateway_record(export) == {1, 3}
