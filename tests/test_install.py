"""A plain install works anywhere: build the wheel, install it (not editable) into a fresh virtual
env, and run srcrel from a folder outside the checkout, with the configs it ships."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO_ROOT
from tests.conftest import run_clean as _run

pytestmark = pytest.mark.slow


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
