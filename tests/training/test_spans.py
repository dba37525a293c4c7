"""Who is the source: `srcrel train task=source_span` and `srcrel evaluate` on real PolNeAR articles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srcrel.cli import compose_stage_config
from srcrel_core.errors import InputError, TrainingError
from srcrel_core.settings import to_dataclass
from tests.conftest import shared_path
from training.config import EvaluateConfig, TrainConfig
from training.evaluate import run_evaluate
from training.span_train import predict_sources, run_span_train


@pytest.fixture(scope="module")
def polnear_subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 train and 12 dev articles of the shared file, one annotator each (a CRF fits in seconds)."""
    lines = shared_path("polnear", "attributions_train_dev.jsonl").read_text(encoding="utf-8").splitlines()
    keep, seen = [], {"train": 0, "dev": 0}
    for line in lines:
        record = json.loads(line)
        if seen[record["compartment"]] < {"train": 80, "dev": 12}[record["compartment"]]:
            seen[record["compartment"]] += 1
            keep.append(line)
    path = tmp_path_factory.mktemp("polnear") / "subset.jsonl"
    path.write_text("\n".join(keep) + "\n", encoding="utf-8")
    return path


def test_span_taggers_train_choose_on_validation_and_evaluate_per_article(polnear_subset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    cfg = compose_stage_config("train", ["task=source_span", f"dataset={polnear_subset}", f"output_dir={run}",
                                         "span.max_iterations=40", "eval.n_boot=100"])
    metrics = run_span_train(to_dataclass(cfg, TrainConfig))
    candidates = {c["model"]: c["validation"] for c in metrics["selection"]["candidates"]}
    assert set(candidates) == {"rules", "crf"}  # e5 only with span.pretrained
    # a CRF learnt from 80 articles names sources far better than the cue rules
    assert candidates["crf"]["source_f1_exact"] > candidates["rules"]["source_f1_exact"] + 0.1
    assert metrics["model"] == "crf" and metrics["split"] == "validation" and "optimistic" in metrics["split_note"]
    assert metrics["articles"] == 12 and metrics["sources"] > 100
    low, high = metrics["ci"]["source_f1_exact"]
    assert low < metrics["source_f1_exact"] < high
    for key in ("source_precision_exact", "source_recall_exact", "source_f1_token", "source_recall_token"):
        assert 0 < metrics[key] < 1
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["source_f1_exact"] == metrics["source_f1_exact"] and (run / "model" / "span.crfsuite").is_file()

    # `srcrel evaluate` on the same file's dev compartment: the same articles, the same figures
    ev = compose_stage_config("evaluate", [f"run_dir={run}", f"data={polnear_subset}", "split=validation",
                                           f"output_dir={tmp_path / 'ev'}", "n_boot=100"])
    scored = run_evaluate(to_dataclass(ev, EvaluateConfig))
    assert isinstance(scored, dict) and scored["source_f1_exact"] == metrics["source_f1_exact"]
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["source_f1_token"] == metrics["source_f1_token"]

    found = predict_sources(run, ["The deal is off, the minister's spokesman Paul Smith said on Monday.",
                                  "It rained."])
    assert found[1] == [] and all(s["text"] in "the minister's spokesman Paul Smith" for s in found[0])
    assert any("Smith" in s["text"] for s in found[0])


def test_span_training_without_any_source_or_on_a_wrong_path_fails_in_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "none.jsonl"
    empty.write_text(json.dumps({"article": "a", "text": "It rained. It snowed.", "attributions": []}) + "\n")
    cfg = compose_stage_config("train", ["task=source_span", f"dataset={empty}", f"output_dir={tmp_path / 'r'}"])
    with pytest.raises(TrainingError, match="no train article with a source span") as err:
        run_span_train(to_dataclass(cfg, TrainConfig))
    assert "\n" not in str(err.value) and not (tmp_path / "r").exists()
    cfg = compose_stage_config("train", ["task=source_span", f"dataset={tmp_path / 'missing'}",
                                         f"output_dir={tmp_path / 'r'}"])
    with pytest.raises(InputError, match="not an attribution JSONL"):
        run_span_train(to_dataclass(cfg, TrainConfig))


def test_the_e5_token_tagger_trains_chooses_its_epoch_saves_and_predicts(polnear_subset: Path, tmp_path: Path) -> None:
    """span.model=e5 end to end on a tiny random encoder built here (the real one: benchmarks/source_spans.py)."""
    pytest.importorskip("torch")
    from tests.training.tiny_encoder import write_tiny_encoder
    from training.span_data import load_span_data

    articles = load_span_data(polnear_subset).split("train")[:8]
    encoder = write_tiny_encoder(tmp_path / "tiny", [a.text for a in articles])
    small = tmp_path / "small.jsonl"
    small.write_text("".join(line + "\n" for line in polnear_subset.read_text().splitlines()[:8] + polnear_subset.read_text().splitlines()[-2:]))
    run = tmp_path / "run"
    cfg = compose_stage_config("train", ["task=source_span", f"dataset={small}", f"output_dir={run}", "span.model=e5",
                                         f"span.pretrained={encoder}", "span.epochs=2", "span.batch_size=8",
                                         "eval.n_boot=20"])
    metrics = run_span_train(to_dataclass(cfg, TrainConfig))
    assert metrics["model"] == "e5" and [c["model"] for c in metrics["selection"]["candidates"]] == ["e5"]
    assert (run / "model" / "srcrel_span.json").is_file() and (run / "model" / "span_e5.json").is_file()
    saved = json.loads((run / "model" / "span_e5.json").read_text())
    assert 1 <= saved["epoch"] <= 2 and len(saved["epoch_scores"]) >= 1  # the epoch chosen on validation
    from training.hub import folder_sha256

    assert metrics["encoders"] == [{"name": str(encoder), "kind": "fine-tuned", "sha256": folder_sha256(encoder)}]
    assert saved["pretrained_sha256"] == folder_sha256(encoder) and folder_sha256(encoder) in (run / "model_card.md").read_text()
    found = predict_sources(run, ["The minister said the road will close.", "It rained."])
    assert len(found) == 2 and all(s["text"] for spans in found for s in spans)
    with pytest.raises(Exception, match="span.pretrained"):
        run_span_train(to_dataclass(compose_stage_config("train", [
            "task=source_span", f"dataset={small}", f"output_dir={tmp_path / 'x'}", "span.model=e5"]), TrainConfig))
