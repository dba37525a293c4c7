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


def test_the_gateway_has_its_own_room() -> None:
    """The gateway (a security boundary) lives in labeling/gateway/; the Label Studio side reaches
    it only for its records on disk (who may label, what went through), never for its code."""
    import ast

    studio = REPO_ROOT / "labeling" / "studio"
    reaching = {}
    for path in sorted(studio.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labeling.gateway"):
                reaching[path.name] = node.module
    assert reaching == {"accounts.py": "labeling.gateway.records", "pull.py": "labeling.gateway.records"}
    assert not (studio / "gateway.py").exists() and not (studio / "access.py").exists()
    assert {p.name for p in (REPO_ROOT / "labeling" / "gateway").glob("*.py")} >= {
        "rules.py", "bodies.py", "blind.py", "guard.py", "app.py", "serve.py", "screen.py", "records.py", "upstream.py"}
