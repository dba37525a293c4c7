"""A plain install works anywhere: build the wheel, install it (not editable) into a fresh virtual
env, and run srcrel from a folder outside the checkout, with the configs it ships."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO_ROOT

pytestmark = pytest.mark.slow


def _run(args: list[str], *, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv holding srcrel from its wheel (dependencies from the package index)."""
    root = tmp_path_factory.mktemp("install")
    wheels = root / "wheels"
    # a clean copy: a developer's stale build/ or egg-info must not end up in the wheel
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".venv-studio", "build", "dist", "*.egg-info", "__pycache__", ".srcrel", "demo-output",
        "test-artifacts", ".pytest_cache", ".hypothesis", ".ruff_cache"))
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                  "-w", str(wheels), str(source)], cwd=root)
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("srcrel-*.whl"))
    venv.create(root / "venv", with_pip=True)
    bin_dir = root / "venv" / "bin"
    done = _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    return bin_dir


def test_installed_srcrel_ingests_from_a_folder_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = _run([str(installed / "python"), "-c", "import labeling, srcrel_core; print(labeling.__file__)"],
                 cwd=tmp_path)
    assert "site-packages" in where.stdout and str(REPO_ROOT) not in where.stdout, where.stdout
    done = _run([str(installed / "srcrel"), "ingest", f"input={EXAMPLES / 'articles'}", "output_dir=out"],
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = (tmp_path / "out" / "sentences.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 228  # the example corpus's sentences, as in the checkout


def test_installed_srcrel_composes_a_training_config_from_its_packaged_configs(installed: Path,
                                                                               tmp_path: Path) -> None:
    done = _run([str(installed / "srcrel"), "train", "--cfg", "job", "dataset=x", "model=tfidf_logreg",
                 "output_dir=y"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "name: tfidf_logreg" in done.stdout and "word_ngrams:" in done.stdout
    bad = _run([str(installed / "srcrel"), "train", "dataset=x", "output_dir=y", "model=nope"], cwd=tmp_path)
    assert bad.returncode == 1 and "nope" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_installed_srcrel_ships_its_guidelines(installed: Path, tmp_path: Path) -> None:
    """push's default guidelines (docs/guidelines.md) outside a checkout: the packaged copy, same version."""
    code = ("from pathlib import Path; from labeling.studio.guidelines import read_guidelines; "
            "v, html = read_guidelines(Path('docs/guidelines.md')); print(v, '<table' in html)")
    done = _run([str(installed / "python"), "-c", code], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    from labeling.studio.guidelines import read_guidelines

    assert done.stdout.split() == [read_guidelines(REPO_ROOT / "docs" / "guidelines.md")[0], "True"]
