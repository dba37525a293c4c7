from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from srcrel_core.errors import TrainingError
from training.config import EvalOptions, ModelConfig, ReportConfig, TrainConfig
from training.report import run_report
from training.train import run_train

ROOT = Path(__file__).resolve().parents[2]
FAKE_KEY = "lsk-FAKE-0123456789abcdef-secret"
TOP_KEYS = ["metrics_version", "model", "split", "labels", "n", "macro_f1", "macro_f1_ci", "accuracy",
            "accuracy_ci", "ci_level", "per_class", "confusion_matrix", "per_language", "ece", "brier", "validation",
            "cv", "learning_curve", "learning_curve_verdict", "timing", "data", "provenance", "seeds", "encoders"]


def srcrel(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LABEL_STUDIO_API_KEY": FAKE_KEY,
           "LABEL_STUDIO_URL": "http://127.0.0.1:9"}
    return subprocess.run([sys.executable, "-m", "srcrel.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def _files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


@pytest.fixture(scope="module")
def trained_run(tiny_dataset_dir, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("work")
    done = srcrel("train", f"dataset={tiny_dataset_dir}", "model=tfidf_logreg", "output_dir=out",
                  cwd=work)
    assert done.returncode == 0, done.stderr
    return work


def test_train_writes_every_output(trained_run):
    out = trained_run / "out"
    for name in ("metrics.json", "model.skops", "model_card.md", "errors.csv", "confusion_matrix.png",
                 "learning_curve.png", "config.yaml", "provenance.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == TOP_KEYS
    assert metrics["encoders"] == []  # TF-IDF runs no encoder
    assert 0 <= metrics["macro_f1"] <= 1 and metrics["macro_f1_ci"][0] <= metrics["macro_f1"]
    assert metrics["cv"]["n_folds"] == 5 and metrics["learning_curve"]
    prov = metrics["provenance"]
    assert prov["dataset_fingerprint"] == "f00dfacef00dface" and prov["export_sha256"] == "ab" * 32
    assert prov["guidelines_version"] == ["0123456789ab"] and "scikit-learn" in prov["libraries"]
    assert "macro-F1" in (out / "model_card.md").read_text()
    errors = pd.read_csv(out / "errors.csv")
    assert {"text", "prev_text", "next_text", "gold", "predicted", "p_sourced"} <= set(errors.columns)


def test_no_secret_in_any_output_or_hydra_file(trained_run):
    assert _files_containing(trained_run, FAKE_KEY) == []
    assert list((trained_run / ".srcrel" / "runs" / "train").iterdir())  # Hydra's dir was checked too


def test_evaluate_scores_a_dataset_dir_and_a_tsv_the_same_way(trained_run, tiny_dataset_dir):
    done = srcrel("evaluate", "run_dir=out", f"data={tiny_dataset_dir}", "output_dir=eval",
                  cwd=trained_run)
    assert done.returncode == 0, done.stderr
    trained = json.loads((trained_run / "out" / "metrics.json").read_text())
    again = json.loads((trained_run / "eval" / "metrics.json").read_text())
    assert list(again) == TOP_KEYS
    assert again["macro_f1"] == pytest.approx(trained["macro_f1"])  # same model, same test split
    tsv = trained_run / "unseen.tsv"
    tsv.write_text("sentence_id\tsentence\tlabel\n1\tLa ministre a déclaré que tout va bien.\tsourced\n"
                   "2\tC'est une honte absolue !\topinion\n3\tLe pont a fermé en 2019.\tunverifiable\n")
    done = srcrel("evaluate", "run_dir=out", f"data={tsv}", "output_dir=eval_tsv", cwd=trained_run)
    assert done.returncode == 0, done.stderr
    assert json.loads((trained_run / "eval_tsv" / "metrics.json").read_text())["n"] == 3
    assert _files_containing(trained_run, FAKE_KEY) == []


def test_evaluate_can_score_the_loops_audit_sample_alone(trained_run, tiny_dataset_dir):
    """subset=audit scores only the rows the loop drew at random (`audit == True`), the unbiased
    ones; data without the column is refused in one line."""
    from datasets import load_from_disk

    test = load_from_disk(str(tiny_dataset_dir / "dataset"))["test"].to_pandas()
    done = srcrel("evaluate", "run_dir=out", f"data={tiny_dataset_dir}", "output_dir=eval_audit", "subset=audit",
                  cwd=trained_run)
    assert done.returncode == 0, done.stderr
    audit = json.loads((trained_run / "eval_audit" / "metrics.json").read_text())
    assert audit["n"] == int(test["audit"].sum()) < len(test) and audit["data"]["subset"] == "audit"
    errors = pd.read_csv(trained_run / "eval_audit" / "errors.csv")
    assert set(errors["sentence_id"]) <= set(test.loc[test["audit"], "sentence_id"])
    tsv = trained_run / "plain.tsv"
    tsv.write_text("sentence_id\tsentence\tlabel\n1\tLe pont a fermé en 2019.\tunverifiable\n")
    done = srcrel("evaluate", "run_dir=out", f"data={tsv}", "output_dir=eval_tsv_audit", "subset=audit",
                  cwd=trained_run)
    assert done.returncode == 1 and "has no `audit` column" in done.stderr
    assert done.stderr.strip().count("\n") == 0 and not (trained_run / "eval_tsv_audit").exists()


def test_evaluate_of_a_non_run_fails_in_one_line(tmp_path, tiny_dataset_dir):
    done = srcrel("evaluate", f"run_dir={tmp_path}", f"data={tiny_dataset_dir}", "output_dir=x",
                  cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "srcrel train" in done.stderr


def test_report_ranks_by_validation_not_test(trained_run, tiny_dataset_dir, tmp_path):
    config = TrainConfig(dataset=str(tiny_dataset_dir), output_dir=str(trained_run / "out_majority"),
                         model=ModelConfig(name="majority", classifier="majority"),
                         eval=EvalOptions(n_boot=50, learning_curve=[], plots=False))
    run_train(config)
    result = run_report(ReportConfig(runs=f"{trained_run}/out*",
                                     output=str(tmp_path / "report")))
    assert len(result.table) == 2 and result.png.is_file()
    best = result.table.loc[result.table["selected"]].iloc[0]
    assert best["validation_macro_f1"] == result.table["validation_macro_f1"].max()


def test_single_label_training_data_is_refused(tmp_path):
    from tests.training.conftest import write_dataset_dir
    from training.data import load_data

    root = write_dataset_dir(tmp_path / "d")
    data = load_data(root)
    only = data.splits["train"][data.splits["train"]["label"] == "opinion"]
    tsv = tmp_path / "train_xx.tsv"
    only.rename(columns={"text": "sentence"})[["sentence_id", "sentence", "label"]].to_csv(tsv, sep="\t", index=False)
    (tmp_path / "dev_test_xx.tsv").write_text(tsv.read_text())
    with pytest.raises(TrainingError, match="single label"):
        run_train(TrainConfig(dataset=str(tmp_path), output_dir=str(tmp_path / "o"), label_set=str(
            ROOT / "tests" / "training" / "three_labels.yaml")))
