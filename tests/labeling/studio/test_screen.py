"""The labeling screen for reading news, seen in real Chromium: captioned context from the same
article, the paragraph mark, each label's description and every key on screen, the span tool
only once "sourced" is chosen, no side panel. Screenshots of a sourced, an opinion and an
unverifiable sentence and of a paragraph boundary are kept in test-artifacts/screens/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labeling.ingest.config import IngestConfig
from labeling.ingest.run import run_ingest
from labeling.studio import api
from labeling.studio.config import PushConfig, StudioSettings
from labeling.studio.connection import credentials_path, resolve_connection
from labeling.studio.push import push_tasks
from srcrel.cli import compose_stage_config
from srcrel_core.settings import to_dataclass
from tests.browser import launch, log_in
from tests.conftest import EXAMPLES, REPO_ROOT

ARTIFACTS = REPO_ROOT / "test-artifacts" / "screens"
pytestmark = [pytest.mark.browser, pytest.mark.studio, pytest.mark.slow]


def _tasks(client: Any, project_id: int) -> list[dict[str, Any]]:
    from io import BytesIO

    buffer = BytesIO()
    api.export_snapshot(client, project_id, buffer, only_with_annotations=False, title="screen", timeout=120)
    return list(json.loads(buffer.getvalue()))


def test_the_screen_shows_context_marks_descriptions_and_keys(studio_settings: StudioSettings,
                                                              tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    ingested = run_ingest(IngestConfig(input=str(EXAMPLES / "articles"), output_dir=str(tmp_path / "in"),
                                       reference=str(EXAMPLES / "reference_labels.jsonl"), progress="never"))
    cfg = compose_stage_config("push", [
        f"input={ingested.output_dir}", "project.name=screen", f"state_dir={tmp_path}",
        f"guidelines={REPO_ROOT / 'docs/guidelines.md'}", f"studio.port={studio_settings.port}",
        f"studio.data_dir={studio_settings.data_dir}", f"studio.executable={studio_settings.executable}"])
    pushed = push_tasks(to_dataclass(cfg, PushConfig))
    client = api.connect(resolve_connection(studio_settings))
    tasks = _tasks(client, pushed.project_id)
    reference = {json.loads(line)["sentence_id"]: json.loads(line)["label"]
                 for line in (ingested.output_dir / "reference_labels.jsonl").read_text().splitlines()}
    by_id = {t["data"]["sentence_id"]: t for t in tasks}
    picks = {label: next(t for sid, t in by_id.items() if reference.get(sid) == label and t["data"]["index"] > 1)
             for label in ("sourced", "opinion", "unverifiable")}
    picks["paragraph"] = next(t for t in tasks if "nouveau paragraphe" in t["data"]["paragraph_mark"]
                              or "opens a new paragraph" in t["data"]["paragraph_mark"])
    picks["french"] = next(t for t in tasks if t["data"]["lang"] == "fr" and t["data"]["index"] > 1)
    picks["english"] = next(t for t in tasks if t["data"]["lang"] == "en" and t["data"]["index"] > 1)
    # the paragraph boundary is real: the sentence before it is in another paragraph of the same article
    boundary = picks["paragraph"]["data"]
    before = [t["data"] for t in tasks if t["data"]["article_id"] == boundary["article_id"]
              and t["data"]["index"] == boundary["index"] - 1]
    assert before and before[0]["paragraph"] == boundary["paragraph"] - 1

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    admin = json.loads(credentials_path(studio_settings).read_text())
    with sync_api.sync_playwright() as pw:
        browser = launch(pw, tmp_path)
        page = browser.new_page()
        base = f"http://127.0.0.1:{studio_settings.port}"
        log_in(page, base, admin["username"], admin["password"])
        for name, task in picks.items():
            page.goto(f"{base}/projects/{pushed.project_id}/data?task={task['id']}")
            words = task["data"]  # the screen's words, in the article's language (interface.language=auto)
            page.get_by_text(words["ui_heading"]).first.wait_for(timeout=60_000)
            text = page.locator(".lsf-main-view__annotation").inner_text()
            assert words["ui_before"] in text and words["ui_after"] in text
            assert task["data"]["sentence"][:40] in text
            assert words["ui_keys"] in text and words["ui_label_opinion"][:40] in text
            if words["lang"] == "fr":
                assert "Touches : 1 sourced · 2 opinion · 3 unverifiable · 4 mention de la source" in text
                assert "[2] opinion : La phrase exprime le jugement" in text
            else:
                assert "Keys: 1 sourced · 2 opinion · 3 unverifiable · 4 source mention" in text
                assert "[2] opinion: The sentence expresses the writer's own judgement" in text
            span_tool = page.get_by_text(words["ui_span"][:20])
            assert not span_tool.first.is_visible()  # not before "sourced" is chosen
            choice = name if name in ("opinion", "unverifiable") else "sourced"
            page.locator(f"label.lsf-choice__checkbox:has(input[name='{choice}'])").click()
            if choice == "sourced":
                span_tool.first.wait_for(state="visible")
            else:
                assert not span_tool.first.is_visible()
            if name == "paragraph":
                assert task["data"]["paragraph_mark"] in text and task["data"]["paragraph_mark"] in (
                    "¶ The highlighted sentence opens a new paragraph.", "¶ La phrase surlignée ouvre un nouveau paragraphe.")
            assert page.locator(".lsf-tabs-panel").evaluate_all(
                "els => els.every(e => getComputedStyle(e).display === 'none')")  # no empty side panel
            page.mouse.move(5, 880)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        browser.close()
    assert {p.name for p in ARTIFACTS.glob("*.png")} == {"opinion.png", "paragraph.png", "sourced.png",
                                                         "unverifiable.png", "french.png", "english.png"}
