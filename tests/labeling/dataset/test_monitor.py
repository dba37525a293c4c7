"""`srcrel monitor`: a real project pushed with overlap 2 and three simulated annotators, the
page opened in Chromium and checked figure by figure against monitor.json; and, without Label
Studio, the page of a campaign with no overlap (agreement cannot be measured: said, never nan)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labeling.annotations.export import parse_export
from labeling.dataset.build import run_build
from labeling.dataset.config import BuildConfig, MonitorConfig
from labeling.dataset.monitor import NO_OVERLAP, compute_figures, run_monitor
from labeling.dataset.monitor_page import format_figure, render_page
from labeling.studio import api
from labeling.studio.config import (
    ProjectSettings,
    PushConfig,
    StudioSettings,
)
from labeling.studio.connection import Connection, resolve_connection
from labeling.studio.interface import span_regions
from labeling.studio.push import push_tasks
from srcrel.cli import compose_stage_config
from srcrel_core.settings import to_dataclass
from tests.labeling.conftest import LABELS, choice, write_tasks

REPO = Path(__file__).resolve().parents[3]
NAN = re.compile(r"\bnan\b", re.IGNORECASE)
# who answers which sentences (s000000..s000011, overlap 2): s10, s11 have one answer, s4 three
PLAN = {"mon-ann1@example.com": (0.95, [*range(8)]),
        "mon-ann2@example.com": (0.9, [*range(4, 12)]),
        "mon-ann3@example.com": (0.35, [0, 1, 2, 3, 4, 8, 9])}


def _studio_args(s: StudioSettings) -> list[str]:
    return [f"studio.port={s.port}", f"studio.data_dir={s.data_dir}", f"studio.executable={s.executable}"]


def _lookup(figures: dict[str, Any], path: str) -> Any:
    value: Any = figures
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _check_page(page_html: str, shown: dict[str, str], figures: dict[str, Any]) -> None:
    assert not NAN.search(page_html)
    for path, text in shown.items():
        assert text == format_figure(_lookup(figures, path)), path


@pytest.mark.studio
@pytest.mark.browser
@pytest.mark.slow
def test_monitor_page_of_a_real_campaign_matches_its_json(
        studio_settings: StudioSettings, tmp_path: Path, ingest_dir: Callable[..., Path]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.browser import launch

    src = ingest_dir(12, per_article=3)  # four articles: enough for build's grouped splits
    reference = tmp_path / "reference.jsonl"
    truth = {f"s{i:06d}": LABELS[i % 3] for i in range(12)}
    reference.write_text("".join(json.dumps({"sentence_id": s, "label": lab}) + "\n"
                                 for s, lab in truth.items()), encoding="utf-8")
    state = tmp_path / "state"
    name = "monitor-campaign"
    push = compose_stage_config("push", [
        f"input={src}", f"project.name={name}", "project.maximum_annotations=2", f"state_dir={state}",
        f"guidelines={REPO / 'docs/guidelines.md'}", f"controls.reference={reference}", "controls.fraction=0.25",
        f"annotators=[{','.join(PLAN)}]", "progress=never", *_studio_args(studio_settings)])
    pushed = push_tasks(to_dataclass(push, PushConfig))
    assert pushed.controls_path is not None
    client = api.connect(resolve_connection(studio_settings))
    tasks = {sid: tid for tid, sid in api.list_task_refs(client, pushed.project_id)}
    texts = {r["sentence_id"]: r["text"] for r in map(json.loads, (src / "sentences.jsonl").read_text().splitlines())}
    for email, (accuracy, rows) in PLAN.items():  # planted as each annotator, past the label stream
        own = api.connect(Connection(resolve_connection(studio_settings).url,
                                     api.get_user_token(studio_settings, email), True))
        for n, i in enumerate(rows):
            right = n < round(accuracy * len(rows))
            label = truth[f"s{i:06d}"] if right else LABELS[(i + 1) % 3]
            first_word = re.match(r"\w+", texts[f"s{i:06d}"])
            regions = span_regions([{"start": 0, "end": first_word.end(), "text": first_word.group()}], outside=False) \
                if label == "sourced" and first_word else []  # who is the source: the first word, by everyone
            api.annotate(own, tasks[f"s{i:06d}"], from_name="label", to_name="sentence", choice=label,
                         lead_time=3.0, regions=regions)
    skipper = api.create_user(client, "mon-ann3@example.com")
    client.annotations.create(tasks["s000010"], result=[], was_cancelled=True, completed_by=skipper.id)

    out = tmp_path / "monitor"
    cfg = compose_stage_config("monitor", [f"project.name={name}", f"output={out}", f"state_dir={state}",
                                           "bootstrap_n=200", "flag_min_items=2", *_studio_args(studio_settings)])
    result = run_monitor(to_dataclass(cfg, MonitorConfig))
    figures = json.loads(result.json_path.read_text(encoding="utf-8"))
    assert figures == json.loads(json.dumps(result.figures))
    progress = figures["progress"]
    assert (progress["tasks"], progress["overlap"], progress["target_annotations"]) == (12, 2, 24)
    assert (progress["annotations"], progress["skipped"]) == (23, 1)
    assert (progress["sentences_started"], progress["sentences_done"]) == (12, 10)
    assert figures["over_overlap"]["sentences"] == [{"sentence_id": "s000004", "answers": 3, "overlap": 2}]
    assert figures["agreement"]["measurable"] and figures["agreement"]["paired_sentences"] == 10
    spans = figures["source_spans"]  # the same first word by everyone who chose sourced: full span agreement
    assert spans["measurable"] and spans["spans"]["read"] == spans["spans"]["kept"] > 0
    assert spans["exact_f1"]["value"] == spans["token_f1"]["value"] == 1.0
    assert figures["controls"]["sentences"] == 3 and figures["controls"]["file"] == str(pushed.controls_path)
    by_answers = sorted((a["annotations"], a["skipped"]) for a in figures["annotators"])
    assert by_answers == [(7, 1), (8, 0), (8, 0)]
    assert sum(a["control_items"] for a in figures["annotators"]) > 0
    # issue 20 item 18: annotators by email, compared with build's default consensus
    assert set(PLAN) <= {a["name"] for a in figures["annotators"]} and figures["flag"]["consensus"] == "majority"
    assert all(a["name"] != a["worker"] for a in figures["annotators"])
    private = run_monitor(to_dataclass(compose_stage_config("monitor", [
        f"project.name={name}", f"output={tmp_path / 'private'}", f"state_dir={state}", "bootstrap_n=50",
        "annotator_names=false", *_studio_args(studio_settings)]), MonitorConfig))
    assert "@" not in private.html_path.read_text(encoding="utf-8")
    assert [a["name"] for a in private.figures["annotators"]] == [a["worker"] for a in private.figures["annotators"]]
    assert [p.name for p in sorted((out / "pull").iterdir())] == [  # the latest export only
        Path(figures["export"]["file"]).name, Path(figures["export"]["file"]).name + ".meta.json"]
    # the same export through `srcrel build`: the monitor's figures are report.json's
    built = run_build(to_dataclass(compose_stage_config("build", [
        f"export={out / 'pull' / figures['export']['file']}", f"output_dir={tmp_path / 'built'}",
        f"controls={pushed.controls_path}", "agreement.bootstrap_n=200"]), BuildConfig))
    report = built.report
    assert progress["annotations"] == report["export"]["reconciliation"]["kept"]
    assert progress["skipped"] == report["export"]["reconciliation"]["dropped"]["cancelled"]
    assert figures["over_overlap"]["count"] == report["overlap"]["items_over"]
    assert figures["agreement"]["paired_sentences"] == report["agreement"]["paired_items"]
    for measure in ("krippendorff_alpha", "observed"):
        assert figures["agreement"][measure]["value"] == round(report["agreement"][measure]["value"], 4)

    requests: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = launch(pw, tmp_path)
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(result.html_path.resolve().as_uri())
        page.wait_for_load_state("load")
        shown = page.eval_on_selector_all(
            "[data-figure]", "els => Object.fromEntries(els.map(e => [e.dataset.figure, e.textContent]))")
        text = page.inner_text("body")
        flagged = page.eval_on_selector_all("[data-flagged]", "els => els.map(e => e.dataset.flagged)")
        assert page.locator("svg").count() >= 3  # work, throughput, agreement with the consensus
        shot = tmp_path / "monitor.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert errors == [] and failed == []
    assert requests == [result.html_path.resolve().as_uri()]  # nothing but the page itself
    assert not NAN.search(text)
    _check_page(result.html_path.read_text(encoding="utf-8"), shown, figures)
    for path in ("progress.annotations", "progress.skipped", "agreement.paired_sentences",
                 "agreement.krippendorff_alpha.value", "agreement.observed.value", "over_overlap.count",
                 *(f"annotators.{i}.{key}" for i in range(3)
                   for key in ("annotations", "skip_rate", "control_accuracy", "consensus_agreement"))):
        assert path in shown, path
    assert flagged == figures["flag"]["flagged"]
    if os.environ.get("SRCREL_MONITOR_SCREENSHOT"):  # docs/monitor.png: SRCREL_MONITOR_SCREENSHOT=docs/monitor.png
        shutil.copyfile(shot, os.environ["SRCREL_MONITOR_SCREENSHOT"])


def _export(path: Path, answers: dict[str, list[tuple[str, str, bool]]]) -> Path:
    """A Label Studio snapshot: sentence_id -> [(worker, label, skipped)]."""
    tasks = []
    for n, (sid, given) in enumerate(answers.items(), start=1):
        annotations = [{"id": n * 10 + k, "completed_by": int(worker), "was_cancelled": skipped,
                        "ground_truth": False, "lead_time": 3.0, "created_at": f"2026-01-01T0{k}:1{n}:00Z",
                        "result": [] if skipped else choice(label)}
                       for k, (worker, label, skipped) in enumerate(given)]
        tasks.append({"id": n, "data": {"sentence_id": sid, "sentence": f"Sentence {n}."},
                      "annotations": annotations})
    return write_tasks(path, tasks)


@pytest.mark.parametrize("answers", [
    {"s1": [("1", "opinion", False)], "s2": [("1", "sourced", False)], "s3": [("1", "", True)]},
    {"s1": [], "s2": []},  # nothing answered yet
], ids=["one-annotator", "empty"])
def test_without_two_answers_the_page_says_agreement_cannot_be_measured(
        tmp_path: Path, answers: dict[str, list[tuple[str, str, bool]]]) -> None:
    parsed = parse_export(_export(tmp_path / "export.json", answers), label_names=LABELS)
    config = MonitorConfig(project=ProjectSettings(name="solo"), output=str(tmp_path))
    figures = compute_figures(parsed, labels=LABELS, overlap=1, controls=None, config=config,
                              project={"name": "solo", "id": 1, "server_url": "http://127.0.0.1:1"})
    assert figures["agreement"] == {"measurable": False, "message": NO_OVERLAP, "paired_sentences": 0}
    json.dumps(figures, allow_nan=False)  # no NaN reaches monitor.json
    page = render_page(figures)
    assert NO_OVERLAP in page and "project.maximum_annotations=2" in page
    assert not NAN.search(page)
    shown = dict(re.findall(r'data-figure="([^"]+)">([^<]*)<', page))
    _check_page(page, shown, figures)
    assert figures["progress"]["tasks"] == len(answers)


def test_over_overlap_and_a_falling_annotator_are_flagged(tmp_path: Path) -> None:
    # worker 3 agrees with 1 and 2 on s1..s4, then disagrees with both on s5..s8
    answers = {f"s{i}": [("1", "opinion", False), ("2", "opinion", False),
                         ("3", "opinion" if i <= 4 else "sourced", False)] for i in range(1, 9)}
    answers["s1"].append(("4", "opinion", False))
    parsed = parse_export(_export(tmp_path / "export.json", answers), label_names=LABELS)
    config = MonitorConfig(project=ProjectSettings(name="p"), output=str(tmp_path), bootstrap_n=50,
                           consensus="majority", flag_min_items=4)
    figures = compute_figures(parsed, labels=LABELS, overlap=3, controls=None, config=config,
                              project={"name": "p", "id": 1, "server_url": "x"})
    assert figures["over_overlap"]["sentences"] == [{"sentence_id": "s1", "answers": 4, "overlap": 3}]
    third = {a["worker"]: a for a in figures["annotators"]}["3"]
    assert (third["consensus_agreement"], third["first_half_agreement"], third["second_half_agreement"]) == (
        0.5, 1.0, 0.0)
    assert figures["flag"]["flagged"] == ["3"] and len(third["flag_reasons"]) == 2
    page = render_page(figures)
    assert 'data-flagged="3"' in page and "FLAGGED" in page and not NAN.search(page)


def test_every_regenerates_until_ctrl_c_and_survives_a_server_hiccup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from labeling.dataset import monitor
    from srcrel_core.errors import StudioError

    calls: list[int] = []
    result = monitor.MonitorResult(tmp_path / "monitor.html", tmp_path / "monitor.json", {
        "generated_at": "t", "progress": {"annotations": 1, "sentences_done": 0, "tasks": 2}})

    def generate(config: MonitorConfig) -> monitor.MonitorResult:
        calls.append(1)
        if len(calls) == 2:
            raise StudioError("Label Studio at http://x is not answering")
        return result

    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(monitor, "generate_monitor", generate)
    config = MonitorConfig(project=ProjectSettings(name="p"), output=str(tmp_path), every=0.5)
    assert monitor.run_monitor(config, sleep=sleep) is result
    assert (len(calls), naps) == (3, [30.0, 30.0, 30.0])
    err = capsys.readouterr().err
    assert "not answering" in err and "previous figures" in err and err.rstrip().endswith("stopped")


def test_an_undefined_alpha_is_said_not_printed_as_nan(tmp_path: Path) -> None:
    answers = {f"s{i}": [("1", "opinion", False), ("2", "opinion", False)] for i in range(1, 3)}
    parsed = parse_export(_export(tmp_path / "export.json", answers), label_names=LABELS)
    config = MonitorConfig(project=ProjectSettings(name="p"), output=str(tmp_path), bootstrap_n=50)
    figures = compute_figures(parsed, labels=LABELS, overlap=2, controls=None, config=config,
                              project={"name": "p", "id": 1, "server_url": "x"})
    assert figures["agreement"]["observed"]["value"] == 1.0
    assert figures["agreement"]["krippendorff_alpha"]["value"] is None  # one label only: α undefined
    json.dumps(figures, allow_nan=False)
    page = render_page(figures)
    assert "not defined yet" in page and not NAN.search(page)
