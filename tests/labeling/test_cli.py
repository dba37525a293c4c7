from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labeling.cli import STAGES, compose_stage_config
from tests.conftest import EXAMPLES, REPO_ROOT


def srcrel(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labeling.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_misspelled_key_fails_at_start_in_one_line(tmp_path: Path) -> None:
    run = srcrel("ingest", "input=x", "output_dir=y", "langg=fr", cwd=tmp_path)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "langg" in lines[0] and lines[0].startswith("srcrel ingest: error:")


def test_missing_required_setting_names_it(tmp_path: Path) -> None:
    run = srcrel("ingest", "input=x", cwd=tmp_path)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "srcrel ingest: error: missing required setting 'output_dir': pass output_dir=... on the command line"]


def test_wrong_type_is_one_line(tmp_path: Path) -> None:
    run = srcrel("ingest", "input=x", "output_dir=y", "workers=many", cwd=tmp_path)
    assert run.returncode == 1 and len(run.stderr.strip().splitlines()) == 1 and "workers" in run.stderr


def test_user_error_is_one_line_exit_1(tmp_path: Path) -> None:
    run = srcrel("ingest", f"input={tmp_path / 'missing'}", f"output_dir={tmp_path / 'out'}", cwd=tmp_path)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].startswith("srcrel ingest: error: input=")
    assert "Traceback" not in run.stderr


def test_help_cfg_and_unknown_stage(tmp_path: Path) -> None:
    assert "ingest" in srcrel("--help", cwd=tmp_path).stdout
    helped = srcrel("ingest", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "output_dir" in helped.stdout
    cfg = srcrel("ingest", "input=a", "output_dir=b", "--cfg", "job", cwd=tmp_path)
    assert cfg.returncode == 0 and "input: a" in cfg.stdout
    unknown = srcrel("ingets", cwd=tmp_path)
    assert unknown.returncode == 1 and "unknown stage" in unknown.stderr


def test_ingest_end_to_end_through_the_cli(tmp_path: Path) -> None:
    run = srcrel("ingest", f"input={EXAMPLES / 'articles'}", f"output_dir={tmp_path / 'out'}", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "228" in run.stdout
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"sentences.jsonl", "articles.jsonl", "tasks.json", "manifest.json"}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_stage_config_composes(stage: str) -> None:
    cfg = compose_stage_config(stage, [])
    assert cfg is not None


def test_config_dir_is_the_repository_configs() -> None:
    assert (REPO_ROOT / "configs" / "ingest.yaml").exists()
