"""Blind annotation through srcrel's gateway, tried as an annotator would: in real Chromium (log
in, label stream, hotkeys, submit, skip, back arrow + update) and over HTTP (a table of requests
that are not part of annotating, by session cookie and by token, each refused with 403), while
the administrator, on Label Studio directly, still does everything. Issue 19's findings have
their own tests (test_attacks.py), and blindness its proof (test_noninterference.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from labeling.studio import api
from labeling.studio.config import StudioSettings
from labeling.studio.connection import Connection, gateway_url, resolve_connection
from labeling.studio.push import PushResult
from srcrel.cli import compose_stage_config
from srcrel_core.settings import to_dataclass
from tests.browser import launch, log_in
from tests.labeling.gateway.conftest import choice as _choice
from tests.labeling.gateway.conftest import push as _push
from tests.labeling.gateway.conftest import studio_args as _studio_args

pytestmark = [pytest.mark.studio]
A, B = "gw-ann-a@example.com", "gw-ann-b@example.com"


@dataclass(frozen=True)
class Campaign:
    project: PushResult
    other_project: PushResult  # A and B were not added to it
    logins: dict[str, dict[str, str]]
    tokens: dict[str, str]
    ids: dict[str, int]
    b_annotation: int  # an answer of B's, on a task A will also label


@pytest.fixture(scope="module")
def campaign(studio_settings: StudioSettings, tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    from tests.conftest import write_ingest_dir

    tmp = tmp_path_factory.mktemp("gateway")
    project = _push(studio_settings, write_ingest_dir(tmp / "in", 8), "gateway", [A, B],
                    "project.maximum_annotations=2")
    other = _push(studio_settings, write_ingest_dir(tmp / "other", 2, prefix="o"), "gateway-other", [])
    logins = {json.loads(f.read_text())["email"]: json.loads(f.read_text()) for f in project.annotator_files}
    tokens = {email: api.get_user_token(studio_settings, email) for email in (A, B)}
    admin = api.connect(resolve_connection(studio_settings))
    ids = {u.email: u.id for u in api.list_users(admin)}
    # B takes the first task from the label stream and answers it through the gateway, with B's own token
    b = api.connect(Connection(gateway_url(studio_settings), tokens[B], True))
    handed = api.next_task(b, project.project_id)
    assert handed is not None
    made = api.annotate(b, handed.id, from_name="label", to_name="sentence", choice="sourced", lead_time=2.0)
    return Campaign(project, other, logins, tokens, ids, made)


def _handed(campaign: Campaign, studio_settings: StudioSettings, who: str = A) -> int:
    """The next task the label stream hands the account (only such a task may be answered)."""
    handed = requests.post(f"{gateway_url(studio_settings)}/api/dm/actions?id=next_task&project="
                           f"{campaign.project.project_id}", json={}, timeout=30,
                           headers={"Authorization": f"Token {campaign.tokens[who]}"})
    assert handed.status_code == 200, handed.text
    return int(handed.json()["id"])


def _session(studio_settings: StudioSettings, login: dict[str, str]) -> requests.Session:
    """A browser-like session logged in through the gateway."""
    base = gateway_url(studio_settings)
    session = requests.Session()
    session.get(f"{base}/user/login/", timeout=30)
    done = session.post(f"{base}/user/login/", timeout=30, allow_redirects=False,
                        headers={"Referer": f"{base}/user/login/"},
                        data={"email": login["email"], "password": login["password"],
                              "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")})
    assert done.status_code == 302 and "sessionid" in session.cookies, done.text[:300]
    session.headers["X-CSRFToken"] = session.cookies.get("csrftoken", "")
    session.headers["Referer"] = f"{base}/"
    return session


def _forbidden(c: Campaign) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(method, path, JSON body): what an annotator must not reach through the gateway."""
    pid, other = c.project.project_id, c.other_project.project_id
    task = c.b_annotation
    return [
        ("GET", f"/api/tasks?project={pid}&fields=all", None),  # the Data Manager list, every result
        ("GET", f"/api/tasks?project={other}", None),  # another project's task list
        ("GET", f"/api/tasks/{_first_task(c)}/", None),  # task detail with every annotation
        ("GET", f"/api/tasks/{_first_task(c)}/annotations/", None),
        ("GET", f"/api/annotations/{task}/", None),  # B's answer, read by A
        ("PATCH", f"/api/annotations/{task}/", {"result": []}),  # B's answer, changed by A
        ("DELETE", f"/api/annotations/{task}/", None),
        ("GET", f"/api/projects/{pid}/export?exportType=JSON", None),
        ("POST", f"/api/projects/{pid}/exports/", {"title": "x"}),
        ("GET", f"/api/projects/{pid}/exports/", None),
        ("PATCH", f"/api/projects/{pid}/", {"title": "renamed"}),
        ("DELETE", f"/api/projects/{pid}/", None),
        ("POST", "/api/projects/", {"title": "mine"}),
        ("POST", f"/api/projects/{pid}/import", [{"data": {"sentence": "x"}}]),
        ("GET", f"/api/projects/{other}/", None),  # a project A was not added to
        ("GET", f"/projects/{other}/data", None),
        ("GET", f"/projects/{pid}/settings", None),
        ("POST", f"/api/dm/actions?id=delete_tasks&project={pid}", {"selectedItems": {"all": True}}),
        ("POST", f"/api/dm/actions?id=next_task&project={other}", None),
        ("GET", "/api/users/", None),
        ("GET", f"/api/users/{c.ids[B]}/", None),
        ("GET", "/api/invite", None),
        ("POST", "/api/invite/reset-token", None),
        ("GET", "/api/organizations/", None),
        ("GET", "/api/current-user/token", None),
        ("GET", "/api/token/", None),
        ("GET", f"/api/projects/{pid}/members", None),
        ("GET", "/api/ml", None),  # no project named
        ("GET", "/data/upload/1/x.json", None),
        ("GET", "/admin/", None),
        ("GET", "/user/signup/", None),
        ("GET", "/docs/api/schema/", None),
        ("GET", f"/api/tasks/{_first_task(c)}/drafts", None),  # every annotator's drafts
        ("GET", f"/api/projects/{pid}/tasks/", None),
        ("POST", f"/api/annotations/{task}/convert-to-draft", None),
        ("PUT", f"/api/annotations/{task}/", {"result": []}),
        ("POST", "/api/dm/views/order/", {"project": pid, "ids": [1]}),
        ("DELETE", "/api/dm/views/1/", None),
        ("GET", f"/api/tasks/{_last_task(c)}?interaction=labelstream&project={pid}", None),  # never handed to A
        ("POST", f"/api/tasks/{_last_task(c)}/annotations?project={pid}", {"result": []}),  # ... nor answered
        ("POST", f"/api/tasks/{_last_task(c)}/drafts?project={pid}", {"result": []}),
        ("DELETE", f"/api/annotations/{task}/?project={pid}", None),  # B's answer: not A's skip
    ]


@pytest.fixture(scope="module")
def admin_client(studio_settings: StudioSettings) -> Any:
    return api.connect(resolve_connection(studio_settings))


def _first_task(c: Campaign) -> int:
    return int(_FIRST.get(c.project.project_id, 0))


def _last_task(c: Campaign) -> int:
    return int(_LAST.get(c.project.project_id, 0))


_FIRST: dict[int, int] = {}
_LAST: dict[int, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _remember_first_task(campaign: Campaign, admin_client: Any) -> None:
    tasks = [t for t, _ in api.list_task_refs(admin_client, campaign.project.project_id)]
    _FIRST[campaign.project.project_id], _LAST[campaign.project.project_id] = min(tasks), max(tasks)


@pytest.fixture(scope="module")
def a_session(studio_settings: StudioSettings, campaign: Campaign) -> requests.Session:
    return _session(studio_settings, campaign.logins[A])


@pytest.mark.parametrize("auth", ["session", "token"])
@pytest.mark.parametrize("index", range(42))
def test_requests_that_are_not_annotating_are_refused(index: int, auth: str, campaign: Campaign,
                                                      a_session: requests.Session,
                                                      studio_settings: StudioSettings) -> None:
    method, path, body = _forbidden(campaign)[index]
    base = gateway_url(studio_settings)
    if auth == "session":
        answer = a_session.request(method, base + path, json=body, timeout=30, allow_redirects=False)
    else:
        answer = requests.request(method, base + path, json=body, timeout=30, allow_redirects=False,
                                  headers={"Authorization": f"Token {campaign.tokens[A]}"})
    assert answer.status_code == 403, (method, path, answer.status_code, answer.text[:200])
    assert "not part of annotating" in answer.text


def test_the_forbidden_table_is_complete(campaign: Campaign) -> None:
    assert len(_forbidden(campaign)) == 42  # the parametrisation above covers every row


def test_the_administrator_still_does_everything_directly(campaign: Campaign, admin_client: Any,
                                                          studio_settings: StudioSettings) -> None:
    conn = resolve_connection(studio_settings)
    direct = requests.get(f"{conn.url}/api/tasks/{_first_task(campaign)}/", timeout=30,
                          headers={"Authorization": f"Token {conn.api_key}"})
    assert direct.status_code == 200 and len(direct.json()["annotations"]) >= 1
    export = requests.get(f"{conn.url}/api/projects/{campaign.project.project_id}/export?exportType=JSON",
                          timeout=60, headers={"Authorization": f"Token {conn.api_key}"})
    assert export.status_code == 200
    assert {u.email for u in api.list_users(admin_client)} >= {A, B}


def test_an_annotator_sees_only_the_projects_added_to_and_only_themself(campaign: Campaign,
                                                                        a_session: requests.Session,
                                                                        studio_settings: StudioSettings) -> None:
    base = gateway_url(studio_settings)
    projects = a_session.get(f"{base}/api/projects?page=1&page_size=30", timeout=30).json()
    assert [p["id"] for p in projects["results"]] == [campaign.project.project_id]
    users = a_session.get(f"{base}/api/users?project={campaign.project.project_id}", timeout=30).json()
    emails = {u.get("email") for u in (users.get("results", users) if isinstance(users, dict) else users)}
    assert emails == {A}


def test_the_label_stream_and_the_back_arrow_show_no_other_answer(campaign: Campaign,
                                                                  a_session: requests.Session,
                                                                  studio_settings: StudioSettings) -> None:
    base, pid = gateway_url(studio_settings), campaign.project.project_id
    task = _first_task(campaign)
    assert a_session.post(f"{base}/api/dm/actions?id=next_task&project={pid}", json={}, timeout=30).json()["id"] == task
    reopened = a_session.get(f"{base}/api/tasks/{task}?interaction=labelstream&project={pid}", timeout=30)
    assert reopened.status_code == 200
    body = reopened.json()
    assert body["annotations"] == [] and not body.get("annotators") and not body.get("updated_by")
    assert B not in reopened.text
    nxt = a_session.post(f"{base}/api/dm/actions?id=next_task&project={pid}", json={}, timeout=30)
    assert nxt.status_code == 200 and B not in nxt.text and nxt.json()["id"] == task  # A's lock: the same task
    listed = a_session.get(f"{base}/api/tasks?page=1&page_size=30&project={pid}", timeout=30)
    assert listed.status_code == 200 and listed.json()["tasks"]
    assert all(t.get("annotations", []) == [] and not t.get("annotators") for t in listed.json()["tasks"])
    # no one's answer: the only "sourced" is the screen's own words ($ui_* fields: the label legend)
    answers_free = [{**t, "data": {k: v for k, v in t["data"].items() if not k.startswith("ui_")}}
                    for t in listed.json()["tasks"]]
    assert B not in listed.text and "sourced" not in json.dumps(answers_free)


def test_an_annotation_is_always_the_requesters_own(campaign: Campaign, studio_settings: StudioSettings,
                                                    admin_client: Any) -> None:
    base, pid = gateway_url(studio_settings), campaign.project.project_id
    task = _handed(campaign, studio_settings)
    forged = requests.post(f"{base}/api/tasks/{task}/annotations/?project={pid}", timeout=30,
                           headers={"Authorization": f"Token {campaign.tokens[A]}"},
                           json={"completed_by": campaign.ids[B], "lead_time": 1.0,
                                 "result": [{"from_name": "label", "to_name": "sentence", "type": "choices",
                                             "value": {"choices": ["opinion"]}}]})
    assert forged.status_code == 201
    stored = requests.get(f"{resolve_connection(studio_settings).url}/api/annotations/{forged.json()['id']}/",
                          timeout=30, headers={"Authorization": f"Token {resolve_connection(studio_settings).api_key}"})
    assert stored.json()["completed_by"] == campaign.ids[A]


@pytest.mark.browser
@pytest.mark.slow
def test_an_annotator_labels_blind_in_the_browser(campaign: Campaign, studio_settings: StudioSettings,
                                                  tmp_path: Path, admin_client: Any) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    base, pid = gateway_url(studio_settings), campaign.project.project_id
    seen: list[tuple[str, str, int, str]] = []  # method, url, status, body of every API answer
    with sync_api.sync_playwright() as pw:
        browser = launch(pw, tmp_path)
        page = browser.new_page()

        def record(response: Any) -> None:
            if "/api/" in response.url:
                try:
                    text = response.text()
                except Exception:  # noqa: BLE001 - a body the browser dropped (redirect, aborted)
                    text = ""
                seen.append((response.request.method, response.url, response.status, text))

        page.on("response", record)
        log_in(page, base, campaign.logins[A]["email"], campaign.logins[A]["password"])
        page.goto(f"{base}/projects/{pid}/data?labeling=1")
        page.locator(".lsf-modal-ls_visible").get_by_role("button", name="Close modal").click()

        def submit_with(key: str) -> None:
            page.locator("button[data-testid='bottombar-submit-button']").wait_for(timeout=60_000)
            page.keyboard.press(key)  # the hotkey of a label
            with page.expect_response(lambda r: r.request.method == "POST" and "/annotations" in r.url) as done:
                page.keyboard.press("Control+Enter")
            assert done.value.status == 201

        submit_with("2")  # opinion
        submit_with("1")  # sourced
        with page.expect_response(lambda r: r.request.method == "POST" and "/annotations" in r.url) as skipped:
            page.locator("button[data-testid='bottombar-skip-button'], button:has-text('Skip')").first.click()
        assert skipped.value.status == 201
        page.screenshot(path=str(tmp_path / "gateway-labeling.png"), full_page=True)
        # back to the previous answers (the editor reopens each through the gateway), change one, update it
        back = page.locator("[data-testid='prev-task'], button[aria-label='Previous task']").first
        for _ in range(2):
            with page.expect_response(lambda r: "interaction=labelstream" in r.url) as reopened:
                back.click()
            assert reopened.value.status == 200
        page.locator("label.lsf-choice__checkbox:has(input[name='unverifiable'])").click()
        with page.expect_response(lambda r: r.request.method == "PATCH" and "/annotations/" in r.url) as updated:
            page.locator("button[data-testid='bottombar-update-button']").click()
        assert updated.value.status == 200
        browser.close()

    leaks = sorted({url for _, url, _, text in seen if B in text})
    assert leaks == [], leaks  # no answer, no name of the other annotator in anything A received
    refused = [(m, u) for m, u, status, _ in seen if status == 403]
    assert refused == [], refused  # the labeling journey needs nothing the gateway refuses
    mine = [a for t in _export(admin_client, pid) for a in t["annotations"]
            if (a["completed_by"]["id"] if isinstance(a["completed_by"], dict) else a["completed_by"])
            == campaign.ids[A]]
    assert len(mine) >= 3 and sum(a["was_cancelled"] for a in mine) >= 1


def _export(admin_client: Any, project_id: int) -> list[dict[str, Any]]:
    from io import BytesIO

    buffer = BytesIO()
    api.export_snapshot(admin_client, project_id, buffer, only_with_annotations=True, title="gw", timeout=120)
    return json.loads(buffer.getvalue())


def test_one_annotators_session_never_serves_another_client(a_session: requests.Session,
                                                            studio_settings: StudioSettings) -> None:
    base = gateway_url(studio_settings)
    assert a_session.get(f"{base}/api/current-user/whoami", timeout=30).json()["email"] == A
    stranger = requests.get(f"{base}/api/current-user/whoami", timeout=30)
    assert stranger.status_code == 401  # the gateway keeps no cookie of its own between requests
    assert requests.get(f"{base}/user/login/", timeout=30, allow_redirects=False).status_code == 200


def test_pull_records_which_answers_went_through_the_gateway(campaign: Campaign, studio_settings: StudioSettings,
                                                             admin_client: Any, tmp_path: Path) -> None:
    from labeling.annotations.blind import blind_status, read_gateway_record
    from labeling.annotations.export import parse_export
    from labeling.studio.config import PullConfig
    from labeling.studio.pull import pull_export

    def pull_and_judge(name: str) -> dict[str, Any]:
        pulled = pull_export(to_dataclass(compose_stage_config("pull", [
            "project.name=gateway", f"output_dir={tmp_path / name}", *_studio_args(studio_settings)]), PullConfig))
        parsed = parse_export(pulled.export_path, label_names=("sourced", "opinion", "unverifiable"))
        return blind_status(parsed.annotations, read_gateway_record(pulled.export_path))

    a = api.connect(Connection(gateway_url(studio_settings), campaign.tokens[A], True))
    handed = api.next_task(a, campaign.project.project_id)  # A's own answer, whatever ran before this test
    if handed is not None:
        api.annotate(a, handed.id, from_name="label", to_name="sentence", choice="opinion", lead_time=1.0)
    blind = pull_and_judge("through-gateway")
    assert blind["blind"] is True and blind["annotations"] == blind["through_gateway"] >= 2
    # an answer made on Label Studio directly (where any account can read the others'): not blind
    task = max(t for t, _ in api.list_task_refs(admin_client, campaign.project.project_id))
    api.annotate(admin_client, task, from_name="label", to_name="sentence", choice="opinion", lead_time=1.0)
    direct = pull_and_judge("direct")
    assert direct["blind"] is False and direct["through_gateway"] == direct["annotations"] - 1
    assert "were made directly on Label Studio" in direct["statement"]


@pytest.mark.parametrize("raw_path", ["/static/../api/users/", "/static/%2e%2e/api/users/",
                                      "/static/..%2fapi/users/", "/static//api/users/", "/static/.%2E/api/invite",
                                      "/react-app/../api/projects/1/export?exportType=JSON"])
def test_paths_that_normalise_into_another_are_refused(raw_path: str, campaign: Campaign,
                                                       studio_settings: StudioSettings) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", studio_settings.public_port, timeout=30)
    conn.request("GET", raw_path, headers={"Authorization": f"Token {campaign.tokens[A]}"})
    answer = conn.getresponse()
    assert answer.status == 403, (raw_path, answer.status)
    assert b"not part of annotating" in answer.read()


def test_bodies_carry_only_what_annotating_needs(campaign: Campaign, studio_settings: StudioSettings,
                                                 admin_client: Any) -> None:
    base, pid, other = gateway_url(studio_settings), campaign.project.project_id, campaign.other_project.project_id
    token = {"Authorization": f"Token {campaign.tokens[A]}"}
    conn = resolve_connection(studio_settings)
    admin = {"Authorization": f"Token {conn.api_key}"}
    fresh = _handed(campaign, studio_settings)
    other_task = min(t for t, _ in api.list_task_refs(admin_client, other))
    result = _choice("opinion")
    # a form body could carry keys the gateway cannot see: refused (415)
    form = requests.post(f"{base}/api/tasks/{fresh}/annotations/?project={pid}", timeout=30, headers=token,
                         data={"completed_by": campaign.ids[B], "result": json.dumps(result)})
    assert form.status_code == 415
    # X-Api-Key would make Label Studio act as someone else: dropped, the answer is A's
    made = requests.post(f"{base}/api/tasks/{fresh}/annotations/?project={pid}", timeout=30,
                         headers={**token, "X-Api-Key": campaign.tokens[B]}, json={"result": result, "lead_time": 1})
    assert made.status_code == 201
    mine = made.json()["id"]
    stored = requests.get(f"{conn.url}/api/annotations/{mine}/", timeout=30, headers=admin).json()
    assert stored["completed_by"] == campaign.ids[A]
    # an update cannot move one's answer to another task or project, nor set ground truth
    moved = requests.patch(f"{base}/api/annotations/{mine}/?project={pid}", timeout=30, headers=token,
                           json={"task": other_task, "project": other, "ground_truth": True, "result": result})
    assert moved.status_code == 200
    stored = requests.get(f"{conn.url}/api/annotations/{mine}/", timeout=30, headers=admin).json()
    assert stored["task"] == fresh and stored["ground_truth"] is False
    # filters in the query are an oracle on others' answers: refused
    query = json.dumps({"filters": {"conjunction": "and", "items": [{
        "filter": "filter:tasks:annotations_results", "operator": "contains", "type": "String", "value": "sourced"}]}})
    assert requests.get(f"{base}/api/tasks", params={"project": pid, "query": query}, headers=token,
                        timeout=30).status_code == 403
    # a tab in another project, named in the body: the body's project is dropped, the tab is the
    # annotator's private one in the query's project, and nothing reaches Label Studio
    tabs_before = requests.get(f"{conn.url}/api/dm/views?project={other}", timeout=30, headers=admin).json()
    tab = requests.post(f"{base}/api/dm/views?project={pid}", json={"project": other, "data": {}}, headers=token,
                        timeout=30)
    assert tab.status_code == 201 and tab.json()["project"] == pid
    assert requests.get(f"{conn.url}/api/dm/views?project={other}", timeout=30, headers=admin).json() == tabs_before


def test_an_annotator_keeps_their_own_drafts(campaign: Campaign, studio_settings: StudioSettings,
                                             admin_client: Any) -> None:
    base, pid = gateway_url(studio_settings), campaign.project.project_id
    token = {"Authorization": f"Token {campaign.tokens[A]}"}
    task = _handed(campaign, studio_settings, B)
    result = _choice("sourced")
    token = {"Authorization": f"Token {campaign.tokens[B]}"}
    draft = requests.post(f"{base}/api/tasks/{task}/drafts?project={pid}", json={"result": result, "lead_time": 2},
                          headers=token, timeout=30)
    assert draft.status_code == 201, draft.text[:200]
    draft_id = draft.json()["id"]
    assert requests.patch(f"{base}/api/drafts/{draft_id}?project={pid}", json={"result": result, "lead_time": 3},
                          headers=token, timeout=30).status_code == 200
    a_token = {"Authorization": f"Token {campaign.tokens[A]}"}
    assert requests.patch(f"{base}/api/drafts/{draft_id}?project={pid}", json={"result": []},
                          headers=a_token, timeout=30).status_code == 403  # not A's draft
    assert requests.delete(f"{base}/api/drafts/{draft_id}?project={pid}", headers=token,
                           timeout=30).status_code == 204


def test_project_records_and_tabs_carry_no_one_elses_work(campaign: Campaign, a_session: requests.Session,
                                                          studio_settings: StudioSettings, admin_client: Any) -> None:
    base, pid = gateway_url(studio_settings), campaign.project.project_id
    project = a_session.get(f"{base}/api/projects/{pid}", timeout=30).json()
    assert project["label_config"] and project["expert_instruction"]
    for leak in ("total_annotations_number", "skipped_annotations_number", "num_tasks_with_annotations",
                 "task_data_password", "task_data_login", "created_by", "ground_truth_number"):
        assert leak not in project, leak
    listed = a_session.get(f"{base}/api/projects?page=1&page_size=30", timeout=30).json()["results"]
    assert all("total_annotations_number" not in p for p in listed)
    # an admin's tab (with a filter on answers) is neither listed nor usable by the annotator
    conn = resolve_connection(studio_settings)
    admin_tab = requests.post(f"{conn.url}/api/dm/views/", timeout=30, headers={"Authorization": f"Token {conn.api_key}"},
                              json={"project": pid, "data": {"title": "answered", "filters": {"conjunction": "and",
                                    "items": [{"filter": "filter:tasks:total_annotations", "operator": "greater",
                                               "type": "Number", "value": 0}]}}}).json()
    tabs = a_session.get(f"{base}/api/dm/views?project={pid}", timeout=30).json()
    assert admin_tab["id"] not in {t["id"] for t in tabs}
    with_tab = a_session.get(f"{base}/api/tasks?project={pid}&view={admin_tab['id']}&page=1&page_size=30", timeout=30)
    assert with_tab.status_code == 200 and with_tab.json()["total"] == len(api.list_task_refs(admin_client, pid))


def test_a_second_answer_to_the_same_task_is_refused(campaign: Campaign, studio_settings: StudioSettings,
                                                     admin_client: Any) -> None:
    base, pid = gateway_url(studio_settings), campaign.project.project_id
    token = {"Authorization": f"Token {campaign.tokens[B]}"}
    task = _handed(campaign, studio_settings, B)
    result = _choice("opinion")
    first = requests.post(f"{base}/api/tasks/{task}/annotations/?project={pid}", json={"result": result},
                          headers=token, timeout=30)
    assert first.status_code == 201
    again = requests.post(f"{base}/api/tasks/{task}/annotations/?project={pid}", json={"result": result},
                          headers=token, timeout=30)
    assert again.status_code == 403  # an update is a PATCH of one's own answer


def test_predictions_reach_annotators_only_on_tasks_the_loop_prefills(
        studio_settings: StudioSettings, tmp_path: Path) -> None:
    """A model's answer anchors: Label Studio hands every task's predictions to the label stream
    (of the project's model_version); on the loop's tasks the gateway passes them only where it
    pre-fills on purpose (`loop_prefilled: true`)."""
    from tests.conftest import write_ingest_dir

    src = write_ingest_dir(tmp_path / "in", 3, prefix="pf")
    items = json.loads((src / "tasks.json").read_text())
    for n, item in enumerate(items):  # all carry a prediction: the loop pre-fills the first, not the
        if n < 2:                     # second; the third is no loop task (the project's setting decides)
            item["meta"] = {"loop_prefilled": n == 0}
        item["predictions"] = [{"model_version": "m-r1", "score": 0.7, "result": [
            {"from_name": "label", "to_name": "sentence", "type": "choices", "value": {"choices": ["opinion"]}}]}]
    (src / "tasks.json").write_text(json.dumps(items))
    email = "prefill-a@example.org"
    pushed = _push(studio_settings, src, "gateway-prefill", [email])
    admin = api.connect(resolve_connection(studio_settings))
    refs = dict(api.list_task_refs(admin, pushed.project_id))
    assert all(len(admin.tasks.get(str(t)).predictions or []) == 1 for t in refs)  # Label Studio holds both
    annotator = api.connect(Connection(gateway_url(studio_settings), api.get_user_token(studio_settings, email), True))
    seen = {}
    while (handed := api.next_task(annotator, pushed.project_id)) is not None:
        seen[handed.sentence_id] = handed.prediction
        api.annotate(annotator, handed.id, from_name="label", to_name="sentence", choice="sourced", lead_time=1.0,
                     prediction=handed.prediction)
    assert seen["pf000000"] is not None and seen["pf000000"][1] == "opinion"
    assert seen["pf000001"] is None and seen["pf000002"] is not None
    origins = {sid: admin.annotations.list(id=task_id)[0].result[0]["origin"] for task_id, sid in refs.items()}
    assert origins == {"pf000000": "prediction-changed", "pf000001": "manual",  # what the screen records
                       "pf000002": "prediction-changed"}
