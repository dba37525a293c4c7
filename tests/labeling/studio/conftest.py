"""The studio suite runs twice: on Label Studio's embedded SQLite and on srcrel's own PostgreSQL
(the servers are shared with the gateway suite: tests/labeling/conftest.py)."""

from __future__ import annotations

import pytest

from labeling.studio.config import StudioSettings


@pytest.fixture(scope="session")
def studio_settings(studio_on_each_database: StudioSettings) -> StudioSettings:
    return studio_on_each_database
