"""Issue 20 item 14: `report` says when runs tie and by which rule one is selected, and never ranks
runs on different datasets together."""

from __future__ import annotations

import json
from pathlib import Path

from training.config import ReportConfig
from training.report import TIE_RULE, run_report


def _run(root: Path, name: str, *, validation: float, cv: float, fit: float, dataset: str, test: float = 0.5,
         warnings: tuple[str, ...] = ()) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({
        "model": "tfidf_logreg", "macro_f1": test, "macro_f1_ci": [test - 0.1, test + 0.1], "accuracy": test,
        "n": 23, "validation": {"macro_f1": validation}, "cv": {"macro_f1_mean": cv},
        "timing": {"fit_seconds": fit}, "provenance": {"dataset_fingerprint": dataset, "warnings": list(warnings)}}))


def test_ties_are_reported_with_the_rule_that_broke_them(tmp_path: Path) -> None:
    for i, (cv, fit) in enumerate([(0.30, 1.0), (0.35, 2.0), (0.35, 1.5), (0.20, 0.5)]):
        _run(tmp_path / "runs", f"r{i}", validation=0.399, cv=cv, fit=fit, dataset="fp-a", test=0.9 - i / 10)
    result = run_report(ReportConfig(runs=str(tmp_path / "runs" / "*"), output=str(tmp_path / "report")))
    table = result.table
    assert table["tied"].sum() == 4 and table["selected"].sum() == 1
    assert table.loc[table["selected"], "run"].iloc[0].endswith("r2")  # best CV, then the faster of the two
    assert list(table["rank"]) == [1, 2, 3, 4]
    text = result.markdown.read_text()
    assert "4 runs on dataset fp-a tie at 0.399" in text and TIE_RULE in text and "not by a better score" in text


def test_runs_on_different_datasets_are_never_ranked_together(tmp_path: Path) -> None:
    _run(tmp_path / "runs", "a1", validation=0.70, cv=0.6, fit=1, dataset="fp-a")
    _run(tmp_path / "runs", "a2", validation=0.60, cv=0.6, fit=1, dataset="fp-a")
    _run(tmp_path / "runs", "b1", validation=0.90, cv=0.6, fit=1, dataset="fp-b",
         warnings=("the labels come from simulated annotators (seeded confusion matrices), not people",))
    result = run_report(ReportConfig(runs=str(tmp_path / "runs" / "*"), output=str(tmp_path / "report")))
    table = result.table.set_index(result.table["run"].str[-2:])
    assert table.loc["a1", "selected"] and table.loc["b1", "selected"] and not table.loc["a2", "selected"]
    assert table.loc["a1", "rank"] == 1 and table.loc["b1", "rank"] == 1 and table.loc["a2", "rank"] == 2
    assert not table["tied"].any()
    text = result.markdown.read_text()
    assert "2 different datasets" in text and "each dataset is ranked on its own" in text
    assert "Note: dataset fp-b: the labels come from simulated annotators" in text  # issue 20 item 15
