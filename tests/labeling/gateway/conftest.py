"""The gateway suite runs on the same two servers as the studio suite (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from labeling.studio.config import PushConfig, StudioSettings
from labeling.studio.connection import gateway_url
from labeling.studio.push import PushResult, push_tasks
from srcrel.cli import compose_stage_config
from srcrel_core.settings import to_dataclass

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def studio_settings(studio_on_each_database: StudioSettings) -> StudioSettings:
    return studio_on_each_database


def studio_args(s: StudioSettings) -> list[str]:
    return [f"studio.port={s.port}", f"studio.data_dir={s.data_dir}", f"studio.executable={s.executable}",
            f"studio.public_port={s.public_port}"]


def push(settings: StudioSettings, src: Path, name: str, annotators: list[str], *extra: str) -> PushResult:
    cfg = compose_stage_config("push", [f"input={src}", f"project.name={name}", f"state_dir={src.parent / 'state'}",
                                        f"guidelines={REPO / 'docs/guidelines.md'}", f"annotators=[{','.join(annotators)}]",
                                        *extra, *studio_args(settings)])
    return push_tasks(to_dataclass(cfg, PushConfig))


def login(settings: StudioSettings, email: str) -> requests.Session:
    """A browser-like session logged in through the gateway with the password push gave the account."""
    base = gateway_url(settings)
    creds = json.loads((Path(settings.data_dir) / "annotators" / f"{email}.json").read_text())
    session = requests.Session()
    session.get(f"{base}/user/login/", timeout=30)
    done = session.post(f"{base}/user/login/", timeout=30, allow_redirects=False,
                        headers={"Referer": f"{base}/user/login/"},
                        data={"email": email, "password": creds["password"],
                              "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")})
    assert done.status_code == 302 and "sessionid" in session.cookies, done.text[:300]
    session.headers["X-CSRFToken"] = session.cookies.get("csrftoken", "")
    session.headers["Referer"] = f"{base}/"
    return session


def choice(label: str) -> list[dict[str, Any]]:
    return [{"id": "r1", "from_name": "label", "to_name": "sentence", "type": "choices", "origin": "manual",
             "value": {"choices": [label]}}]
