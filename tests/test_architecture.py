"""The architecture rules, read from the source with `ast` by the shared checker: no import cycle,
labeling never imports training, training never imports the Label Studio side, exactly one module
imports label_studio_sdk, no module over 400 lines."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

CHECKER = REPO_ROOT.parent / "shared" / "tools" / "import_graph.py"


def test_the_import_graph_keeps_the_layers() -> None:
    if not CHECKER.is_file():
        pytest.skip(f"needs {CHECKER} (../shared beside the repository)")
    done = subprocess.run([sys.executable, str(CHECKER), str(REPO_ROOT)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout
    assert "cycles 0" in done.stdout and "SDK importers 1" in done.stdout
