from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from labeling.annotations.blind import GatewayRecord, blind_status, read_gateway_record


def _table(*rows: tuple[int, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["annotation_id", "worker"])


def test_blind_only_when_every_annotation_went_through_the_gateway() -> None:
    table = _table((11, "2"), (12, "3"), (13, "2"))
    yes = blind_status(table, GatewayRecord({11, 12, 13, 99}, None))
    assert yes["blind"] is True and yes["statement"].startswith("Blind: yes. All 3 annotations")
    no = blind_status(table, GatewayRecord({11}, None))
    assert no["blind"] is False and no["through_gateway"] == 1
    assert no["statement"].startswith("Blind: no. 2 of 3 annotations were made directly")
    unknown = blind_status(table, None)
    assert unknown["blind"] is None and unknown["statement"].startswith("Blind: unknown.")
    assert blind_status(_table(), GatewayRecord(set(), {}))["blind"] is False


def test_an_answer_stored_under_another_account_than_its_sender_is_not_blind() -> None:
    """Issue 19, finding 1: the gateway's journal named the real sender while Label Studio
    stored the answer under another annotator: "Blind: yes" could not see it."""
    table = _table((11, "2"), (12, "3"), (13, "2"))
    honest = blind_status(table, GatewayRecord({11, 12, 13}, {11: 2, 12: 3, 13: 2}))
    assert honest["blind"] is True and honest["misattributed"] == []
    assert "each stored under the account that sent it" in honest["statement"]
    forged = blind_status(table, GatewayRecord({11, 12, 13}, {11: 2, 12: 2, 13: 2}))  # 12 sent by 2, stored as 3
    assert forged["blind"] is False and forged["misattributed"] == [12]
    assert forged["statement"].startswith("Blind: no. 1 of 3 annotations are stored under another account")


def test_the_record_comes_from_the_pull_sidecar(tmp_path: Path) -> None:
    export = tmp_path / "export-x.json"
    export.write_text("[]")
    assert read_gateway_record(export) is None  # no sidecar
    sidecar = export.with_name(export.name + ".meta.json")
    sidecar.write_text(json.dumps({"sha256": "x", "gateway_annotations": None}))
    assert read_gateway_record(export) is None  # an external server
    sidecar.write_text(json.dumps({"sha256": "x", "gateway_annotations": [3, 1]}))
    assert read_gateway_record(export) == GatewayRecord({1, 3}, None)  # a sidecar from before the authors
    sidecar.write_text(json.dumps({"sha256": "x", "gateway_annotations": [3, 1], "gateway_authors": {"1": 5, "3": 6}}))
    assert read_gateway_record(export) == GatewayRecord({1, 3}, {1: 5, 3: 6})
