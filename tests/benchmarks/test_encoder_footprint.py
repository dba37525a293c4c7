"""benchmarks/encoder_footprint.py: its training-step measure on a tiny shape (the real ones take minutes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="make test installs the finetune extra (make finetune-install)")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("setting", ["frozen", "all"])
def test_the_training_step_reports_peak_memory_parameters_and_step_time(setting: str) -> None:
    done = subprocess.run([sys.executable, "benchmarks/encoder_footprint.py", "--steps", "2", "--child", "train", "tiny",
                           setting], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    embeddings = 250_002 * 32 / 1e6  # XLM-R's vocabulary at hidden size 32: most of the tiny model
    assert result["parameters_m"] > embeddings and result["peak_gb"] > 0.1 and result["step_seconds"] > 0
    head = (32 * 2 + 2) / 1e6  # the 2-class linear head over the mean-pooled hidden states, always trained
    expected = result["parameters_m"] - (embeddings if setting == "frozen" else 0) + head
    assert result["trained_m"] == pytest.approx(expected)
