"""A real annotator session in Debian's Chromium: log in, open the label stream, pick "opinion",
submit; the annotation is in the next pull, and hostile sentence text stays literal text."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from labeling.studio import api
from labeling.studio.config import PullConfig, PushConfig, StudioSettings
from labeling.studio.connection import resolve_connection
from labeling.studio.pull import pull_export
from labeling.studio.push import push_tasks
from srcrel.cli import compose_stage_config
from srcrel_core.settings import to_dataclass
from tests.browser import launch, log_in

REPO = Path(__file__).resolve().parents[3]
HOSTILE = "The mayor said <img src=x onerror=alert(1)> and <script>alert(1)</script> twice."
pytestmark = [pytest.mark.browser, pytest.mark.studio, pytest.mark.slow]


def _studio_args(s: StudioSettings) -> list[str]:
    return [f"studio.port={s.port}", f"studio.data_dir={s.data_dir}", f"studio.executable={s.executable}"]


def test_annotator_labels_in_the_browser_and_pull_sees_it(
        studio_settings: StudioSettings, tmp_path: Path, ingest_dir: Callable[..., Path]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    src = ingest_dir(2, texts={0: HOSTILE})
    cfg = compose_stage_config("push", [f"input={src}", "project.name=browser", f"state_dir={tmp_path}",
                                        f"guidelines={REPO / 'docs/guidelines.md'}",
                                        "annotators=[browser-ann@example.com]", *_studio_args(studio_settings)])
    pushed = push_tasks(to_dataclass(cfg, PushConfig))
    login = json.loads(pushed.annotator_files[0].read_text())
    base = f"http://127.0.0.1:{studio_settings.port}"

    dialogs: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = launch(pw, tmp_path)
        page = browser.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        log_in(page, base, login["email"], login["password"])

        page.goto(f"{base}/projects/{pushed.project_id}/data?labeling=1")
        sentence = page.get_by_text("onerror=alert(1)", exact=False).first
        sentence.wait_for(timeout=60_000)
        assert "<script>alert(1)</script>" in sentence.inner_text()
        assert page.locator("img[src='x']").count() == 0
        page.get_by_text("(start of the article)").first.wait_for()  # the context is shown too
        page.get_by_text("Sentence 1 of the test corpus").first.wait_for()
        page.screenshot(path=str(tmp_path / "instructions.png"))
        modal = page.locator(".lsf-modal-ls_visible")
        assert "guidelines version " + pushed.guidelines_version in modal.inner_text()  # shown first
        modal.get_by_role("button", name="Close modal").click()
        modal.wait_for(state="hidden")
        page.screenshot(path=str(tmp_path / "labeling.png"), full_page=True)

        page.locator("label.lsf-choice__checkbox:has(input[name='opinion'])").click()
        with page.expect_response(lambda r: r.request.method == "POST" and "/annotations" in r.url) as posted:
            page.locator("button[data-testid='bottombar-submit-button']").click()
        assert posted.value.status == 201
        browser.close()
    assert dialogs == []

    pulled = pull_export(to_dataclass(compose_stage_config(
        "pull", ["project.name=browser", f"output_dir={tmp_path / 'out'}", *_studio_args(studio_settings)]),
        PullConfig))
    tasks = {t["data"]["sentence_id"]: t for t in json.loads(pulled.export_path.read_bytes())}
    annotation = tasks["s000000"]["annotations"][0]
    assert annotation["completed_by"]["email"] == "browser-ann@example.com"
    labels = [r["value"]["choices"] for r in annotation["result"] if r["from_name"] == "label"]
    assert labels == [["opinion"]]
    assert tasks["s000000"]["data"]["sentence"] == HOSTILE
    client = api.connect(resolve_connection(studio_settings))
    assert api.find_tasks(client, pushed.project_id, ["s000000"])["s000000"]
