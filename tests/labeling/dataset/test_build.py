from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pandas as pd
import pytest
import yaml
from datasets import load_from_disk

from labeling.dataset.build import run_from_config
from srcrel.cli import check_overrides, compose_stage_config
from srcrel_core.errors import ConfigError, ExportError

REPO = Path(__file__).resolve().parents[3]
FAST = ["agreement.bootstrap_n=30", "label_issues.n_splits=3"]


def _build(export: Path, out: Path, *extra: str):
    cfg = compose_stage_config("build", [f"export={export}", f"output_dir={out}", *FAST, *extra])
    return run_from_config(cfg)


def test_build_writes_dataset_card_report_and_provenance(simulated_export: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    result = _build(simulated_export, out, "card.license=cc-by-4.0")
    printed = " ".join(capsys.readouterr().out.split())  # issue 20 item 12: more than one line
    rec = result.report["export"]["reconciliation"]
    assert f"annotations: {rec['exported']} exported = {rec['kept']} kept" in printed
    assert "Krippendorff's alpha" in printed and f"dataset: {result.rows} sentences" in printed
    assert "train " in printed and "annotators" in printed
    dataset = load_from_disk(str(out / "dataset"))
    assert list(dataset) == ["train", "validation", "test"]
    assert dataset["train"].features["label"].names == ["sourced", "opinion", "unverifiable"]
    columns = set(dataset["train"].column_names)
    assert {"sentence_id", "article_id", "text", "prev_text", "next_text", "lang", "label",
            "label_source", "soft_label", "annotations", "agreement"} <= columns
    articles = [set(dataset[s]["article_id"]) for s in dataset]
    assert not (articles[0] & articles[1] or articles[0] & articles[2] or articles[1] & articles[2])
    parquet = pd.concat(pd.read_parquet(out / "parquet" / f"{s}.parquet") for s in dataset)
    assert len(parquet) == result.rows == sum(dataset[s].num_rows for s in dataset)

    report = orjson.loads((out / "report.json").read_bytes())
    rec = report["export"]["reconciliation"]
    assert rec["balanced"] and rec["exported"] == rec["kept"] + sum(rec["dropped"].values()) == 900
    assert set(report) >= {"agreement", "annotators", "aggregation", "dataset", "label_issues", "export"}
    assert 0 < report["agreement"]["krippendorff_alpha"]["value"] < 1
    assert len(report["agreement"]["pairwise_cohen_kappa"]) == 3
    assert [a["items"] for a in report["annotators"]] == [300, 300, 300]
    assert report["aggregation"]["unresolved"] + result.rows == 300
    provenance = orjson.loads((out / "provenance.json").read_bytes())
    assert set(provenance) == {"dataset_fingerprint", "export_sha256", "guidelines_version",
                               "label_names", "srcrel_version", "warnings"}
    assert provenance["dataset_fingerprint"] == result.fingerprint

    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["license"] == "cc-by-4.0" and meta["language"] == ["en"]
    assert meta["size_categories"] == ["n<1K"] and meta["task_categories"] == ["text-classification"]
    assert provenance["export_sha256"] in card and "Krippendorff" in card
    assert "annotators of this dataset were simulated" not in card
    for name in ("plots/pairwise_kappa.png", "plots/confusion_vs_consensus.png", "label_issues.csv",
                 "adjudication_queue.csv", "dropped_annotations.csv"):
        assert (out / name).is_file(), name
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_same_export_and_config_give_the_same_fingerprint(simulated_export: Path, tmp_path: Path) -> None:
    first = _build(simulated_export, tmp_path / "a")
    second = _build(simulated_export, tmp_path / "b")
    again = _build(simulated_export, tmp_path / "a")  # rebuilding over an existing output
    assert first.fingerprint == second.fingerprint == again.fingerprint
    other = _build(simulated_export, tmp_path / "c", "seed=1")
    assert other.fingerprint != first.fingerprint


def test_a_truncated_export_writes_nothing(simulated_export: Path, tmp_path: Path) -> None:
    raw = simulated_export.read_bytes()
    simulated_export.write_bytes(raw[: len(raw) - 500])
    out = tmp_path / "nested" / "out"
    with pytest.raises(ExportError, match=r"truncated JSON near byte \d+ \(line \d+\)"):
        _build(simulated_export, out)
    assert not (tmp_path / "nested").exists()
    previous = tmp_path / "previous"
    previous.mkdir()
    (previous / "keep.txt").write_text("old build")
    with pytest.raises(ExportError):
        _build(simulated_export, previous)
    assert [p.name for p in previous.iterdir()] == ["keep.txt"]


def test_simulated_card_controls_adjudications_and_metadata(simulated_export: Path, tmp_path: Path) -> None:
    controls = tmp_path / "controls.jsonl"
    controls.write_text('{"sentence_id": "art0000-000", "label": "unverifiable"}\n')
    queue_out = tmp_path / "first"
    _build(simulated_export, queue_out)
    queue = pd.read_csv(queue_out / "adjudication_queue.csv")
    tied = queue.loc[queue["reason"] == "tie", "task"].tolist()
    assert tied
    decisions = tmp_path / "adjudications.jsonl"
    decisions.write_text("".join(f'{{"task": "{t}", "label": "opinion"}}\n' for t in tied))
    sentences = tmp_path / "sentences.jsonl"
    sentences.write_text('{"sentence_id": "art0000-001", "url": "https://example.org/a0", "outlet": "Example"}\n')
    out = tmp_path / "out"
    result = _build(simulated_export, out, f"controls={controls}", f"adjudications={decisions}",
                    f"sentences={sentences}", "card.simulated_annotators=true",
                    "aggregation.method=dawid_skene", "aggregation.n_iter=20")
    rows = pd.concat(pd.read_parquet(out / "parquet" / f"{s}.parquet")
                     for s in ("train", "validation", "test")).set_index("sentence_id")
    assert result.rows == 300 - 0  # Dawid-Skene leaves no ties
    assert rows.loc["art0000-000", "label_source"] == "control" and rows.loc["art0000-000", "label"] == 2
    assert (rows.loc[tied, "label_source"] == "adjudicated").all() and (rows.loc[tied, "label"] == 1).all()
    assert rows.loc["art0000-001", "url"] == "https://example.org/a0"
    assert "annotators of this dataset were simulated" in (out / "README.md").read_text()
    report = orjson.loads((out / "report.json").read_bytes())
    assert set(report["aggregation"]["worker_confusions"]) == {"1", "2", "3"}
    assert report["aggregation"]["label_sources"]["control"] == 1
    worker_1 = next(a for a in report["annotators"] if a["worker"] == "1")
    assert worker_1["control_items"] == 1


def test_bad_option_fails_at_composition_listing_the_choices(simulated_export: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'vote', expected one of \[majority, dawid_skene, mace, glad\]"):
        check_overrides("build", [f"export={simulated_export}", f"output_dir={tmp_path}", "aggregation.method=vote"])
    assert not (tmp_path / "out").exists()


def test_cli_prints_one_line_and_exits_1_on_a_broken_export(tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    export.write_bytes(b'[{"id": 1, "data": {"sentence_id": "s1"}, "annotations": [')
    proc = subprocess.run([sys.executable, "-m", "srcrel.cli", "build", f"export={export}",
                           f"output_dir={tmp_path / 'out'}", f"hydra.run.dir={tmp_path / 'run'}"],
                          check=False, capture_output=True, text=True, cwd=REPO,
                          env={"PYTHONPATH": str(REPO)})
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert str(export) in proc.stderr and "truncated" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("override", [
    "aggregation.method=majority", "aggregation.method=dawid_skene", "aggregation.method=mace",
    "aggregation.method=glad", "aggregation.tie_policy=unresolved", "aggregation.tie_policy=random",
    "aggregation.tie_policy=label_order", "label_set=checkthat", "label_issues.enabled=false",
    "agreement.plots=false", "card.simulated_annotators=true",
])
def test_every_option_composes(override: str) -> None:
    from labeling.dataset.build import _check_options
    from labeling.dataset.config import BuildConfig
    from srcrel_core.settings import to_dataclass

    config = to_dataclass(compose_stage_config("build", ["export=x.json", "output_dir=out", override]),
                          BuildConfig)
    _check_options(config)  # raises on a value the build cannot use
    key, value = override.split("=")
    held: object = config
    for part in key.split("."):
        held = getattr(held, part)
    assert str(held.value if hasattr(held, "value") else held).lower() == value  # the override reached the run


def test_missing_export_names_the_setting() -> None:
    from labeling.dataset.config import BuildConfig
    from srcrel_core.settings import to_dataclass

    with pytest.raises(ConfigError, match="missing required setting 'export'"):
        to_dataclass(compose_stage_config("build", ["output_dir=out"]), BuildConfig)


def test_a_one_annotator_campaign_says_agreement_cannot_be_measured(tmp_path: Path) -> None:
    from labeling.annotations.synthetic import simulate_annotations
    from labeling.dataset.card import NO_AGREEMENT
    from tests.labeling.conftest import CONFUSIONS, LABELS, make_corpus
    from tests.simulated_export import write_simulated_export

    sentences, truth = make_corpus(12, 6, seed=3)
    one = dict(list(CONFUSIONS.items())[:1])
    answers = simulate_annotations(truth.items(), one, label_names=LABELS, seed=4)
    export = write_simulated_export(tmp_path / "export-solo.json", sentences, answers)
    _build(export, tmp_path / "out")
    card = (tmp_path / "out" / "README.md").read_text()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["agreement"]["paired_items"] == 0 and report["agreement"]["items"] == 72
    assert NO_AGREEMENT in card and "nan" not in card.lower()
    assert not (tmp_path / "out" / "plots" / "pairwise_kappa.png").exists()


def test_a_pilot_of_two_articles_builds_and_says_how_it_split(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 20 item 7: a 2-article pilot could not be built (the split needed 3 articles)."""
    from labeling.annotations.synthetic import simulate_annotations
    from tests.labeling.conftest import CONFUSIONS, LABELS, make_corpus
    from tests.simulated_export import write_simulated_export

    sentences, truth = make_corpus(2, 10, seed=5)
    answers = simulate_annotations(truth.items(), CONFUSIONS, label_names=LABELS, seed=6)
    export = write_simulated_export(tmp_path / "export-pilot.json", sentences, answers)
    result = _build(export, tmp_path / "out")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    splits = report["dataset"]["splits"]
    assert sum(s["rows"] for s in splits.values()) == result.rows == 20 and all(s["rows"] >= 1 for s in splits.values())
    assert report["dataset"]["split_by"] == "sentence" and "pilot: only 2 article(s)" in report["dataset"]["split_note"]
    card = " ".join((tmp_path / "out" / "README.md").read_text().split())
    assert "Pilot: only 2 article(s), so the splits are by sentence" in card
    assert "pilot: only 2 article(s)" in " ".join(capsys.readouterr().out.split())


def test_the_card_is_one_a_researcher_can_cite(simulated_export: Path, tmp_path: Path) -> None:
    """Issue 20 item 16: citation (BibTeX + CITATION.cff), the license said in words, a column
    glossary, where the articles come from, and label issues put in proportion."""
    bib = tmp_path / "ds.bib"
    bib.write_text("@misc{news2026,\n  title = {News sourcing},\n  author = {Doe, Jane},\n  year = {2026}\n}\n")
    _build(simulated_export, tmp_path / "cited", "dataset.license=cc-by-4.0", f"dataset.citation={bib}",
           "dataset.authors=[Jane Doe]", "dataset.source='Regional French dailies, 2024, chosen at random'")
    card = (tmp_path / "cited" / "README.md").read_text()
    assert "```bibtex\n@misc{news2026," in card and "license: cc-by-4.0" in card
    assert "released under `cc-by-4.0`" in card and "Regional French dailies, 2024" in card
    for column in ("`soft_label`", "`label_source`", "`annotations`", "`agreement`"):
        assert f"| {column} |" in card
    assert "in the order ['sourced', 'opinion', 'unverifiable']" in card and "`control`" in card
    cff = yaml.safe_load((tmp_path / "cited" / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "dataset" and cff["license"] == "cc-by-4.0"
    assert cff["authors"] == [{"name": "Jane Doe"}]

    _build(simulated_export, tmp_path / "plain")  # nothing said: the card says so, and makes a citation
    card = (tmp_path / "plain" / "README.md").read_text()
    assert "`license: other`: no license was set" in card and "Not stated by whoever built the dataset" in card
    assert "```bibtex\n@misc{srcrel" in card and "by 1 annotators" not in card
    flagged = json.loads((tmp_path / "plain" / "report.json").read_text())["label_issues"]["flagged"]
    if flagged:
        assert "read them as a list to review, not as an error rate" in card


def test_a_citation_that_is_not_bibtex_is_refused_before_any_work(tmp_path: Path) -> None:
    from labeling.dataset.build import _check_options
    from labeling.dataset.config import BuildConfig
    from srcrel_core.settings import to_dataclass

    config = to_dataclass(compose_stage_config("build", ["export=x.json", f"output_dir={tmp_path / 'o'}",
                                                         "dataset.citation=Doe 2026"]), BuildConfig)
    with pytest.raises(ConfigError, match="dataset.citation='Doe 2026': give a BibTeX entry"):
        _check_options(config)
    assert not (tmp_path / "o").exists()


def test_the_datasets_warnings_reach_every_model_card_trained_on_it(simulated_export: Path, tmp_path: Path) -> None:
    """Issue 20 item 15: a model trained on the demo dataset never said its labels were simulated."""
    from training.config import EvalOptions, ModelConfig, TrainConfig
    from training.train import run_train

    _build(simulated_export, tmp_path / "ds", "card.simulated_annotators=true")
    warnings = json.loads((tmp_path / "ds" / "provenance.json").read_text())["warnings"]
    assert any("simulated annotators" in w for w in warnings) and any("pilot size" in w for w in warnings)
    run_train(TrainConfig(dataset=str(tmp_path / "ds"), output_dir=str(tmp_path / "run"),
                          model=ModelConfig(name="majority", classifier="majority"),
                          eval=EvalOptions(n_boot=20, learning_curve=[], plots=False)))
    card = (tmp_path / "run" / "model_card.md").read_text()
    for warning in warnings:
        assert f"> **About its training data:** {warning}." in card
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["provenance"]["warnings"] == warnings


def test_source_spans_reach_the_dataset_report_card_and_attribution_file(tmp_path: Path) -> None:
    from srcrel_core.attributions import read_attributions
    from tests.simulated_export import write_simulated_export

    sentences = pd.DataFrame({
        "sentence_id": [f"a{a}-{i}" for a in range(4) for i in range(2)],
        "article_id": [f"a{a}" for a in range(4) for _ in range(2)],
        "text": ["The mayor, Ann Lee, said the bridge will close.", "It will reopen in May."] * 4,
        "prev_text": "", "next_text": "", "lang": "en", "title": ""})
    mayor, lee = (0, 19), (11, 18)  # "The mayor, Ann Lee" and "Ann Lee"
    rows = []
    for sid in sentences["sentence_id"]:
        if sid.endswith("-1"):  # "opinion", with a span left behind by one annotator: dropped, counted
            rows += [(sid, "w1", "opinion", [{"start": 0, "end": 2, "text": "It"}], False),
                     (sid, "w2", "opinion", None, False)]
            continue
        rows += [(sid, "w1", "sourced", [{"start": mayor[0], "end": mayor[1] + 1, "text": "The mayor, Ann Lee,"}], False),
                 (sid, "w2", "sourced", [{"start": lee[0], "end": lee[1], "text": "Ann Lee"}], False),
                 (sid, "w3", "sourced", [{"start": mayor[0], "end": mayor[1], "text": "The mayor, Ann Lee"}], False)]
    answers = pd.DataFrame(rows, columns=["task", "worker", "label", "source_spans", "source_outside"])
    export = write_simulated_export(tmp_path / "export-1-20260101T000000Z.json", sentences, answers)
    result = _build(export, tmp_path / "out", "label_issues.enabled=false")
    report = result.report["source_spans"]
    assert report["spans"] == {"read": 16, "kept": 12, "dropped": {"not_sourced": 4, "outside_text": 0}}
    # per sentence: w1 = w3 after trimming the comma; w2 differs: 1 exact match in 3 pairs
    assert report["exact_f1"]["value"] == round(2 / 6, 4) and report["pairs"] == 12
    assert report["token_f1"]["value"] == round(2 * (4 + 2 + 2) / (8 + 6 + 6), 4)
    dataset = load_from_disk(str(tmp_path / "out" / "dataset"))
    rows_out = {r["sentence_id"]: r for s in dataset for r in dataset[s]}
    assert rows_out["a0-0"]["source_span"] == [{"start": 0, "end": 18, "text": "The mayor, Ann Lee",
                                                "article_start": None, "article_end": None}]
    assert rows_out["a0-1"]["source_span"] == [] and not rows_out["a0-1"]["source_outside"]
    given = {a["worker"]: a["source_spans"] for a in rows_out["a0-0"]["annotations"]}
    assert given["2"] == [{"start": 11, "end": 18, "text": "Ann Lee"}]
    dropped = pd.read_csv(tmp_path / "out" / "dropped_spans.csv")
    assert len(dropped) == 4 and set(dropped["reason"]) == {"not_sourced"}
    docs = read_attributions(tmp_path / "out" / "attributions.jsonl")
    assert len(docs) == 4 and all(d.text[s[0][0]:s[0][1]] == "The mayor, Ann Lee" for d in docs for s in d.sources)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "Who is the source" in card and "0.33" in card
