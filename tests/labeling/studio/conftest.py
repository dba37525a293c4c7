"""The studio suite runs twice: on Label Studio's embedded SQLite and on srcrel's own PostgreSQL."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from labeling.studio.config import Database, StudioSettings
from labeling.studio.server import start_server, stop_server
from tests.conftest import STUDIO_EXECUTABLE, free_port


@pytest.fixture(scope="session", params=[Database.sqlite, Database.postgresql])
def studio_settings(request: pytest.FixtureRequest) -> Iterator[StudioSettings]:
    """A managed Label Studio in a fresh data dir on free ports, on each database, stopped at the end."""
    if not STUDIO_EXECUTABLE.is_file():
        pytest.fail(f"{STUDIO_EXECUTABLE} missing: run `make` to create .venv-studio")
    for var in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "POSTGRE_HOST"):
        os.environ.pop(var, None)  # the managed server, not a developer's own
    # PostgreSQL runs as the postgres account when the tests run as root: its cluster must be
    # reachable (pytest's own temp dirs are private to root)
    base = Path(tempfile.mkdtemp(prefix=f"srcrel-{request.param}-"))
    base.chmod(0o711)
    settings = StudioSettings(port=free_port(), data_dir=str(base / "studio"), executable=str(STUDIO_EXECUTABLE),
                              public_port=free_port(), database=request.param, database_port=free_port())
    start_server(settings)
    yield settings
    stop_server(settings)
    shutil.rmtree(base, ignore_errors=True)
