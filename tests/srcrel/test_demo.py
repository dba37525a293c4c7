"""The whole workflow end to end against the real Label Studio: what `make demo` runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import load_from_disk

from labeling.studio.config import StudioSettings
from srcrel.demo import DemoConfig, run_demo

pytestmark = [pytest.mark.studio, pytest.mark.slow]


def test_demo_runs_end_to_end(studio_settings: StudioSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # push/simulate state under ./.srcrel of the test, not of the repo
    out = tmp_path / "demo"
    config = DemoConfig(output_dir=str(out), project="demo-smoke", studio=studio_settings,
                        models=["majority", "tfidf_logreg"])
    run_demo(config)

    report = json.loads((out / "dataset" / "report.json").read_text())
    reconciliation = report["export"]["reconciliation"]
    assert reconciliation["balanced"] and reconciliation["exported"] == 3 * 228 == reconciliation["kept"]
    agreement = report["agreement"]
    assert agreement["items"] == 228 and agreement["annotators"] == 3
    # accuracies 0.9 / 0.8 / 0.7 over three labels: clearly above chance, clearly below perfect
    assert 0.25 < agreement["krippendorff_alpha"]["value"] < 0.8
    # annotators are created in order of decreasing simulated accuracy (0.9, 0.8, 0.7), so their
    # Label Studio ids ascend while their agreement with the consensus descends
    by_id = sorted(report["annotators"], key=lambda row: int(row["worker"]))
    assert [row["items"] for row in by_id] == [228, 228, 228]
    consensus = [row["consensus_agreement"] for row in by_id]
    assert consensus == sorted(consensus, reverse=True)
    summary = json.loads((out / "demo-summary.json").read_text())
    assert len(summary["simulated_confusions"]) == 3
    card = (out / "dataset" / "README.md").read_text()
    assert "simulated" in card.lower()
    # the simulated annotators answered through the gateway, with their own tokens: blind
    assert report["blind"]["blind"] is True and report["blind"]["through_gateway"] == 3 * 228
    assert "**Blind: yes." in card
    assert report["aggregation"]["method"] == "dawid_skene"
    monitor = json.loads((out / "monitor" / "monitor.json").read_text())  # the campaign monitor, same answers
    assert monitor["progress"]["annotations"] == 3 * 228 and monitor["progress"]["sentences_done"] == 228
    assert monitor["over_overlap"]["count"] == report["overlap"]["items_over"] == 0
    assert (out / "monitor" / "monitor.html").is_file()
    for model in ("majority", "tfidf_logreg"):
        metrics = json.loads((out / "runs" / model / "metrics.json").read_text())
        assert 0 <= metrics["macro_f1"] <= 1
    assert (out / "runs" / "baselines.md").is_file()
    # who is the source: the simulated annotators marked the example corpus's reference sources
    # (near misses at 1 - accuracy), through the gateway, into the long table, the dataset and the card
    spans = report["source_spans"]
    assert spans["spans"]["read"] == spans["spans"]["kept"] > 150 and spans["pairs"] > 100
    assert 0.4 < spans["exact_f1"]["value"] < 0.95 and spans["exact_f1"]["value"] < spans["token_f1"]["value"]
    assert spans["aggregated"]["with_span"] > 50 and spans["aggregated"]["outside"] > 5
    dataset = load_from_disk(str(out / "dataset" / "dataset"))
    rows = [r for split in dataset for r in dataset[split] if r["source_span"]]
    assert all(r["text"][s["start"]:s["end"]] == s["text"] and s["article_start"] is not None
               for r in rows for s in r["source_span"])
    assert "## Who is the source" in card and (out / "dataset" / "attributions.jsonl").is_file()
    trained = json.loads((out / "spans" / "metrics.json").read_text())  # srcrel train task=source_span
    assert trained["task"] == "source_span" and 0 <= trained["source_f1_exact"] <= 1
    assert {c["model"] for c in trained["selection"]["candidates"]} == {"rules", "crf"}
    rounds = [json.loads(line) for line in (out / "loop" / "rounds.jsonl").read_text().splitlines()]
    assert [(r["round"], r["pushed"], r["audit"]) for r in rounds] == [(0, 60, 12), (1, 60, 12)]
    assert rounds[1]["model_version"] and rounds[1]["prefilled"] > 0 and rounds[1]["labels"] >= 55
    loop = json.loads((out / "loop" / "dataset" / "report.json").read_text())["loop"]
    assert loop["rounds"] == {"0": 60, "1": 60} and loop["audit_sentences"] == 24
    assert loop["origins"].get("prediction", 0) > 0 and "anchoring_effect" in loop
    # the loop pre-fills who is the source too (the round's span tagger), and the anchoring check covers it
    assert loop["source_span_anchoring"]["prefilled"]["annotations"] > 0

    # a second run is idempotent: nothing imported or annotated twice
    run_demo(config)
    again = json.loads((out / "dataset" / "report.json").read_text())
    assert again["export"]["reconciliation"]["exported"] == 3 * 228
    assert again["dataset"]["fingerprint"] != "" and again["agreement"] == report["agreement"]
    assert len((out / "loop" / "rounds.jsonl").read_text().splitlines()) == 2  # no third round
