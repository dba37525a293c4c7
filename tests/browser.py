"""Debian's Chromium for the browser tests, started the way this machine needs (no sandbox as
root, no background networking), and Label Studio's login form."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def launch(pw: Any, tmp_path: Path) -> Any:
    """A fresh persistent Chromium context with its profile and HOME under tmp_path."""
    if not CHROMIUM.is_file():
        pytest.fail("Chromium missing: apt-get install -y --no-install-recommends chromium chromium-driver")
    home = tmp_path / "chromium-home"
    home.mkdir(exist_ok=True)
    os.environ.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"))
    return pw.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=str(CHROMIUM),
                                                 headless=True, viewport={"width": 1280, "height": 900}, args=ARGS)


def log_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/user/login/")
    page.fill("input#email", email)
    page.fill("input#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/user/login" not in url, timeout=30_000)
