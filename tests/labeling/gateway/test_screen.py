"""The annotator's screens through the gateway, in real Chromium: after login an annotator lands
on their project's label stream; no control that is not theirs (Create Project, Invite Members,
Settings, Import, Export, columns, filters, tabs) and no internal column; and a tab the screen
makes never reaches the administrator, who checks it from their own side, directly on Label
Studio. Screenshots go to test-artifacts/gateway/ (the ones in docs/ were taken this way)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from labeling.studio.config import StudioSettings
from labeling.studio.connection import credentials_path, gateway_url, resolve_connection
from tests.browser import launch, log_in
from tests.conftest import REPO_ROOT, write_ingest_dir
from tests.labeling.gateway.conftest import push

ARTIFACTS = REPO_ROOT / "test-artifacts" / "gateway"
pytestmark = [pytest.mark.browser, pytest.mark.studio, pytest.mark.slow]
ONE, TWO = "screen-one@example.org", "screen-two@example.org"
# what an annotator must not be offered, by the text Label Studio 1.23 puts on it
NOT_THEIRS = ("Create Project", "Invite Members", "Settings", "Import", "Export", "Columns", "Filters", "Order by")


def _visible(page: Any, text: str) -> bool:
    return any(loc.is_visible() for loc in page.get_by_text(text, exact=True).all())


def _password(settings: StudioSettings, email: str) -> str:
    return str(json.loads((Path(settings.data_dir) / "annotators" / f"{email}.json").read_text())["password"])


def test_an_annotator_sees_only_labeling_and_the_administrator_sees_no_annotator_tab(
        studio_settings: StudioSettings, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    first = push(studio_settings, write_ingest_dir(tmp_path / "a", 4, prefix="sca"), "screen-a", [ONE, TWO])
    second = push(studio_settings, write_ingest_dir(tmp_path / "b", 4, prefix="scb"), "screen-b", [TWO])
    conn = resolve_connection(studio_settings)
    admin = {"Authorization": f"Token {conn.api_key}"}
    tabs_before = requests.get(f"{conn.url}/api/dm/views?project={first.project_id}", headers=admin, timeout=30).json()
    base = gateway_url(studio_settings)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = launch(pw, tmp_path)
        page = browser.new_page()
        # one project: straight to its label stream after login
        log_in(page, base, ONE, _password(studio_settings, ONE))
        page.wait_for_url(f"**/projects/{first.project_id}/data?labeling=1*", timeout=30_000)
        page.locator("button[data-testid='bottombar-submit-button']").wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "annotator-labeling.png"))
        # the task table behind it: the sentence, no answer column, no bookkeeping, no admin control
        page.goto(f"{base}/projects/{first.project_id}/data")
        page.get_by_text("Sentence 0 of the test corpus", exact=False).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(ARTIFACTS / "annotator-tasks.png"))
        shown = page.locator("body").inner_text()
        for text in NOT_THEIRS:
            assert not _visible(page, text), text
        for internal in ("srcrel_overlap", "guidelines_version", "srcrel_batch", "Annotated by", "Annotations",
                         "Total annotations", "sentence_id", "ui_keys", "ui_heading"):
            assert internal not in shown, internal
        page.goto(f"{base}/")
        page.wait_for_url(f"**/projects/{first.project_id}/data?labeling=1*", timeout=30_000)
        browser.close()
    with sync_api.sync_playwright() as pw:
        (tmp_path / "two").mkdir()
        browser = launch(pw, tmp_path / "two")
        page = browser.new_page()
        # two projects: the list of theirs, without Create Project or Invite Members
        log_in(page, base, TWO, _password(studio_settings, TWO))
        page.wait_for_url("**/projects/*", timeout=30_000)
        page.get_by_text("screen-b").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "annotator-projects.png"))
        assert page.get_by_text("screen-a").first.is_visible() and page.get_by_text("screen-b").first.is_visible()
        for text in NOT_THEIRS:
            assert not _visible(page, text), text
        assert page.locator('a[href="/organization"]').filter(has=page.locator(":visible")).count() == 0
        page.goto(f"{base}/projects/{second.project_id}/data?labeling=1")
        page.locator("button[data-testid='bottombar-submit-button']").wait_for(timeout=60_000)
        browser.close()
    # the administrator, on Label Studio directly: the same tabs as before the annotators came
    tabs_after = requests.get(f"{conn.url}/api/dm/views?project={first.project_id}", headers=admin, timeout=30).json()
    assert tabs_after == tabs_before
    creds = json.loads(credentials_path(studio_settings).read_text())
    with sync_api.sync_playwright() as pw:
        (tmp_path / "admin").mkdir()
        browser = launch(pw, tmp_path / "admin")
        page = browser.new_page()
        log_in(page, conn.url, creds["username"], creds["password"])
        page.goto(f"{conn.url}/projects/{first.project_id}/data")
        page.locator('[data-testid="dm-import-button"]').first.wait_for(timeout=60_000)  # the admin has every control
        page.get_by_text("Default", exact=True).first.wait_for(timeout=30_000)  # the administrator's first tab
        annotators_tab = _visible(page, "Tasks")  # the title of the annotators' private tab
        page.screenshot(path=str(ARTIFACTS / "administrator-tabs.png"))
        browser.close()
    assert not annotators_tab
