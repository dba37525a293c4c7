"""Shared test fixtures. Real third-party data lives in ../shared/data; tests that need it skip."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO_ROOT.parent / "shared" / "data").resolve()
EXAMPLES = REPO_ROOT / "examples"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when that data is absent (a user's fresh clone)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{'/'.join(parts)} (real third-party data, not in the repository)")
    return path
