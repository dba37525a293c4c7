"""Issue 19's eight findings, each tried again as the attacker did (an annotator with a script,
through the gateway only), on SQLite and PostgreSQL: each must now fail, and the administrator's
view (Label Studio directly) must show that nothing got through."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import psutil
import pytest
import requests

from labeling.studio import api
from labeling.studio.config import StudioSettings
from labeling.studio.connection import gateway_url, resolve_connection
from labeling.studio.server import gateway_pid
from tests.conftest import write_ingest_dir
from tests.labeling.gateway.conftest import choice, login, push

pytestmark = [pytest.mark.studio]
A, B, C = "atk-a@example.org", "atk-b@example.org", "atk-c@example.org"


@dataclass(frozen=True)
class Stage:
    base: str
    direct: str
    admin_headers: dict[str, str]
    project: int
    other: int  # a project A is not in
    tokens: dict[str, str]
    ids: dict[str, int]
    admin: Any


@pytest.fixture(scope="module")
def stage(studio_settings: StudioSettings, tmp_path_factory: pytest.TempPathFactory) -> Stage:
    tmp = tmp_path_factory.mktemp("attacks")
    project = push(studio_settings, write_ingest_dir(tmp / "in", 40, prefix="atk"), "attacks", [A, B, C],
                   "project.maximum_annotations=2")
    other = push(studio_settings, write_ingest_dir(tmp / "other", 2, prefix="atko"), "attacks-other", [C])
    for who in (A, B, C):  # an account's first log-in sets its organisation (project records need it)
        login(studio_settings, who)
    conn = resolve_connection(studio_settings)
    admin = api.connect(conn)
    return Stage(gateway_url(studio_settings), conn.url, {"Authorization": f"Token {conn.api_key}"},
                 project.project_id, other.project_id,
                 {w: api.get_user_token(studio_settings, w) for w in (A, B, C)},
                 {u.email: u.id for u in api.list_users(admin)}, admin)


def _auth(stage: Stage, who: str) -> dict[str, str]:
    return {"Authorization": f"Token {stage.tokens[who]}"}


def _next(stage: Stage, who: str) -> int:
    handed = requests.post(f"{stage.base}/api/dm/actions?id=next_task&project={stage.project}", json={},
                           headers=_auth(stage, who), timeout=60)
    assert handed.status_code == 200, handed.text
    return int(handed.json()["id"])


def _submit(stage: Stage, who: str, task: int, **extra: Any) -> requests.Response:
    return requests.post(f"{stage.base}/api/tasks/{task}/annotations?project={stage.project}", timeout=60,
                         headers=_auth(stage, who), json={"result": choice("opinion"), "lead_time": 1.0, **extra})


def _stored(stage: Stage, task: int) -> list[dict[str, Any]]:
    """Every annotation Label Studio holds on the task, skips included (the administrator's view)."""
    return requests.get(f"{stage.direct}/api/tasks/{task}/", headers=stage.admin_headers, timeout=60).json()["annotations"]


def _author(annotation: dict[str, Any]) -> int:
    who = annotation["completed_by"]
    return int(who["id"] if isinstance(who, dict) else who)


# 1 -- a body that is valid JSON and a valid form -----------------------------------------------

def test_1_a_form_in_disguise_cannot_forge_an_author_ground_truth_or_project(stage: Stage) -> None:
    task = _next(stage, A)
    forged = "&result=" + quote(json.dumps(choice("sourced"))) + f"&completed_by={stage.ids[B]}&ground_truth=true&x="
    body = json.dumps({"result": forged}).encode()
    for content_type in ("application/x-www-form-urlencoded; x=json", "multipart/form-data; x=json",
                         "text/plain; x=json"):
        answer = requests.post(f"{stage.base}/api/tasks/{task}/annotations?project={stage.project}", data=body,
                               headers={**_auth(stage, A), "Content-Type": content_type}, timeout=60)
        assert answer.status_code == 415, (content_type, answer.status_code, answer.text)
    assert _stored(stage, task) == []
    made = _submit(stage, A, task)
    assert made.status_code == 201
    moved = json.dumps({"result": f"&task={task + 1}&project={stage.other}&x="}).encode()
    answer = requests.patch(f"{stage.base}/api/annotations/{made.json()['id']}?project={stage.project}", data=moved,
                            headers={**_auth(stage, A), "Content-Type": "application/x-www-form-urlencoded; x=json"},
                            timeout=60)
    assert answer.status_code == 415
    [kept] = _stored(stage, task)
    assert _author(kept) == stage.ids[A] and not kept["ground_truth"] and kept["project"] == stage.project


# 2 -- extra answers: past the overlap, after a skip, on a task never handed ----------------------

def test_2_one_answer_per_task_and_account_only_where_the_stream_sent_you(stage: Stage) -> None:
    task = _next(stage, B)
    skipped = _submit(stage, B, task, was_cancelled=True)
    assert skipped.status_code == 201
    assert _submit(stage, B, task).status_code == 403  # a skip is the account's one answer
    undone = requests.patch(f"{stage.base}/api/annotations/{skipped.json()['id']}?project={stage.project}",
                            json={"was_cancelled": False, "result": choice("sourced")}, headers=_auth(stage, B),
                            timeout=60)
    assert undone.status_code == 403  # a skip is not updated (the screen's "Cancel skip" deletes it)
    assert [a["was_cancelled"] for a in _stored(stage, task) if _author(a) == stage.ids[B]] == [True]
    # a task the label stream never handed to the account
    never = max(t for t, _ in api.list_task_refs(stage.admin, stage.project))
    assert _submit(stage, B, never).status_code == 403 and _stored(stage, never) == []
    # a task that already holds its overlap (2): A and C answer it, then B tries
    full = _next(stage, C)
    assert _submit(stage, C, full).status_code == 201
    while len([a for a in _stored(stage, full) if not a["was_cancelled"]]) < 2:
        api.annotate(stage.admin, full, from_name="label", to_name="sentence", choice="sourced", lead_time=1.0)
    held = len(_stored(stage, full))
    assert _next(stage, B) != full  # the stream hands B another task; the full one B names itself
    assert _submit(stage, B, full).status_code == 403 and len(_stored(stage, full)) == held


def test_2_simultaneous_submits_of_one_answer_store_it_once(stage: Stage) -> None:
    task = _next(stage, C)
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def submit() -> None:
        barrier.wait()
        statuses.append(_submit(stage, C, task).status_code)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 403, 403, 403]
    assert len([a for a in _stored(stage, task) if _author(a) == stage.ids[C]]) == 1


# 4 -- fields that move with others' work ------------------------------------------------------

def test_4_no_timestamp_queue_name_or_others_counts_reach_an_annotator(stage: Stage) -> None:
    handed = requests.get(f"{stage.base}/api/projects/{stage.project}/next", headers=_auth(stage, A), timeout=60)
    assert handed.status_code == 200
    for key in ("updated_at", "created_at", "queue", "total_annotations", "cancelled_annotations", "updated_by",
                "is_labeled", "overlap", "meta", "draft_exists", "annotators"):
        assert key not in handed.json(), key
    project = requests.get(f"{stage.base}/api/projects/{stage.project}", headers=_auth(stage, A), timeout=60).json()
    assert "queue_total" in project, project
    assert project["queue_total"] == 40 and "queue_done" not in project  # the task count, not what is left
    poll = requests.get(f"{stage.base}/api/dm/project?project={stage.project}&interaction=timer",
                        headers=_auth(stage, A), timeout=60).json()
    assert "annotation_count" not in poll and poll["queue_total"] == 40


# 5 -- a stalled submit -------------------------------------------------------------------------

def _slow_post(stage: Stage, who: str, task: int, *, declared: int, sent: bytes) -> socket.socket:
    host, port = stage.base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (f"POST /api/tasks/{task}/annotations?project={stage.project} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Token {stage.tokens[who]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared}\r\n\r\n").encode()
    sock.sendall(head + sent)
    return sock


def test_5_a_stalled_submit_holds_nobody_else_and_times_out(stage: Stage) -> None:
    mine, theirs = _next(stage, A), _next(stage, B)
    # the attacker stalls submits on the very task B answers and on its own, body half sent
    stalled = [_slow_post(stage, A, task, declared=1000, sent=b'{"resu') for task in (mine, theirs, theirs)]
    started = time.monotonic()
    assert _submit(stage, B, theirs).status_code == 201
    assert time.monotonic() - started < 5  # the old gateway held it until the attacker hung up (20-76 s)
    stalled[0].settimeout(30)
    answer = stalled[0].recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 408"), answer[:80]  # the body did not arrive within 10 s
    assert time.monotonic() - started < 20
    for sock in stalled:
        sock.close()
    assert not [a for a in _stored(stage, mine) if _author(a) == stage.ids[A]]


def test_5_headers_that_never_finish_are_cut_off(stage: Stage) -> None:
    host, port = stage.base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(b"GET /api/version HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    started = time.monotonic()
    assert sock.recv(1024) == b""  # closed by the gateway, not by us
    assert 5 < time.monotonic() - started < 25
    sock.close()


# 6 -- a huge body before login ------------------------------------------------------------------

def test_6_a_huge_login_body_is_refused_before_it_is_read(stage: Stage, studio_settings: StudioSettings) -> None:
    pid = gateway_pid(studio_settings)
    assert pid is not None
    before = psutil.Process(pid).memory_info().rss
    host, port = stage.base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(f"POST /user/login/ HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded"
                 f"\r\nContent-Length: {200 * 2**20}\r\n\r\n".encode() + b"x" * 65_536)
    assert sock.recv(4096).decode("latin-1").startswith("HTTP/1.1 413")
    sock.close()
    chunked = requests.post(f"{stage.base}/user/login/", data=(b"x" * 65_536 for _ in range(100)), timeout=60,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert chunked.status_code == 413  # no declared length: refused once 64 KB have arrived
    assert psutil.Process(pid).memory_info().rss - before < 20 * 2**20


# 7 -- drafts without bound ----------------------------------------------------------------------

def test_7_one_small_draft_per_task_and_account(stage: Stage) -> None:
    task = _next(stage, C)
    url = f"{stage.base}/api/tasks/{task}/drafts?project={stage.project}"
    big = {"result": [{"from_name": "label", "value": {"text": "x" * 4_000_000}}], "lead_time": 1.0}
    assert requests.post(url, json=big, headers=_auth(stage, C), timeout=60).status_code == 413
    first = requests.post(url, json={"result": choice("opinion"), "lead_time": 1.0}, headers=_auth(stage, C), timeout=60)
    assert first.status_code == 201
    again = requests.post(url, json={"result": choice("opinion"), "lead_time": 1.0}, headers=_auth(stage, C), timeout=60)
    assert again.status_code == 403  # autosave updates the draft it has (PATCH)
    drafts = requests.get(f"{stage.direct}/api/tasks/{task}/drafts", headers=stage.admin_headers, timeout=60).json()
    assert len(drafts) == 1


# 8 -- Data Manager tabs shared with the administrator ---------------------------------------------

def test_8_an_annotators_tab_never_reaches_label_studio(stage: Stage) -> None:
    before = requests.get(f"{stage.direct}/api/dm/views?project={stage.project}", headers=stage.admin_headers,
                          timeout=60).json()
    made = requests.post(f"{stage.base}/api/dm/views?project={stage.project}", headers=_auth(stage, A), timeout=60,
                         json={"project": stage.project, "data": {"title": "mine", "hiddenColumns": {"explore": ["id"]},
                                                                   "filters": {"conjunction": "and", "items": [1]}}})
    assert made.status_code == 201 and made.json()["data"]["title"] == "mine"
    assert "items" not in json.dumps(made.json()["data"].get("filters", {}).get("items", []))
    changed = requests.patch(f"{stage.base}/api/dm/views/{made.json()['id']}?project={stage.project}",
                             headers=_auth(stage, A), json={"data": {"title": "renamed"}}, timeout=60)
    assert changed.status_code == 200
    after = requests.get(f"{stage.direct}/api/dm/views?project={stage.project}", headers=stage.admin_headers,
                         timeout=60).json()
    assert after == before  # nothing stored: the administrator's tabs are the administrator's


# bounds on requests ------------------------------------------------------------------------------

def test_an_account_past_its_rate_gets_429_and_others_carry_on(stage: Stage) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def burst(_: int) -> list[int]:
        with requests.Session() as session:
            # the tab list is answered by the gateway itself: the burst does not wait on Label Studio
            return [session.get(f"{stage.base}/api/dm/views?project={stage.project}", headers=_auth(stage, C),
                                timeout=60).status_code for _ in range(25)]

    with ThreadPoolExecutor(8) as pool:
        statuses = [s for part in pool.map(burst, range(8)) for s in part]
    assert 429 in statuses and 200 in statuses  # 200 requests in a second or two: past 50/second
    assert requests.get(f"{stage.base}/api/version", headers=_auth(stage, B), timeout=60).status_code == 200


def test_password_guessing_is_limited_per_address_and_account(stage: Stage) -> None:
    """(An account of its own, so the other tests' log-ins are not held up.)"""
    statuses = [requests.post(f"{stage.base}/user/login/", data={"email": "nobody@example.org", "password": f"guess{n}"}, timeout=60,
                              allow_redirects=False).status_code for n in range(12)]
    assert statuses[-1] == 429 and 429 not in statuses[:5]
    other = requests.post(f"{stage.base}/user/login/", data={"email": B, "password": "guess"}, timeout=60,
                          allow_redirects=False)
    assert other.status_code != 429  # another account from the same address is not locked out


def test_unknown_credentials_are_limited_per_address(stage: Stage) -> None:
    """Each unseen session cookie costs Label Studio a look-up: a stream of made-up ones is cut off
    (sent from another loopback address, 127.0.0.2, so that only it is limited)."""
    import http.client

    host, port = stage.base.removeprefix("http://").split(":")

    def made_up(n: int) -> int:
        conn = http.client.HTTPConnection(host, int(port), timeout=30, source_address=("127.0.0.2", 0))
        conn.request("GET", "/api/version", headers={"Authorization": f"Token made-up-{n}"})
        status = conn.getresponse().status
        conn.close()
        return status

    statuses = [made_up(n) for n in range(70)]
    assert statuses[0] == 401 and statuses[-1] == 429
    assert requests.get(f"{stage.base}/api/version", headers=_auth(stage, B), timeout=60).status_code == 200


# the second review: what a fresh attacker found in the finished gateway ------------------------

def _from(stage: Stage, address: str, raw: bytes, *, rcvbuf: int = 0) -> socket.socket:
    """A raw request sent from another loopback address (so that only it is limited or capped)."""
    host, port = stage.base.removeprefix("http://").split(":")
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((address, 0))
    sock.settimeout(30)
    sock.connect((host, int(port)))
    sock.sendall(raw)
    return sock


def test_r1_clients_that_never_read_a_static_file_hold_no_connection_anyone_needs(stage: Stage) -> None:
    """64 connections (the per-address cap) fetch a 3 MB file and never read it: every pooled
    connection to Label Studio was pinned, and every other annotator waited past 40 s."""
    stalled = [_from(stage, "127.0.0.3", b"GET /static/samples/opossum_snow.mp4 HTTP/1.1\r\nHost: x\r\n\r\n",
                     rcvbuf=1024) for _ in range(64)]
    try:
        time.sleep(2)
        started = time.monotonic()
        answer = requests.get(f"{stage.base}/api/projects/{stage.project}", headers=_auth(stage, B), timeout=30)
        assert answer.status_code == 200 and time.monotonic() - started < 10
        login_page = requests.get(f"{stage.base}/user/login/", timeout=30)
        assert login_page.status_code == 200
    finally:
        for sock in stalled:
            sock.close()


def test_r2_a_session_cookie_sent_twice_is_refused(stage: Stage, studio_settings: StudioSettings) -> None:
    """`sessionid=junkN; sessionid=<A's>` is A to Django, and a new key to a cache on the raw text:
    one identity look-up in Label Studio per request, past every rate."""
    session = login(studio_settings, A)
    real = session.cookies.get("sessionid")
    answer = requests.get(f"{stage.base}/api/current-user/whoami", timeout=30,
                          headers={"Cookie": f"sessionid=junk1; sessionid={real}"})
    assert answer.status_code == 400
    assert requests.get(f"{stage.base}/api/current-user/whoami", timeout=30,
                        headers={"Cookie": f"sessionid={real}"}).status_code == 200


def test_r3_whitespace_around_the_email_does_not_reset_the_login_limit(stage: Stage) -> None:
    """Django strips the email; a limit keyed on it unstripped let every spacing guess again."""
    import http.client

    host, port = stage.base.removeprefix("http://").split(":")

    def guess(n: int) -> int:
        conn = http.client.HTTPConnection(host, int(port), timeout=30, source_address=("127.0.0.4", 0))
        body = f"email={quote(' ' * n + B + ' ' * (n % 2))}&password=guess{n}"
        conn.request("POST", "/user/login/", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        status = conn.getresponse().status
        conn.close()
        return status

    statuses = [guess(n) for n in range(14)]
    assert 429 in statuses[10:] and 429 not in statuses[:5]


def test_r4_predictions_stay_hidden_where_the_project_does_not_show_them(
        stage: Stage, studio_settings: StudioSettings, tmp_path_factory: pytest.TempPathFactory) -> None:
    """show_collab_predictions=false, a prediction on a task: the back arrow's task showed it."""
    pushed = push(studio_settings, write_ingest_dir(tmp_path_factory.mktemp("preds") / "in", 3, prefix="prd"),
                  "attacks-predictions", [A])
    stage.admin.projects.update(pushed.project_id, show_collab_predictions=False)
    handed = requests.post(f"{stage.base}/api/dm/actions?id=next_task&project={pushed.project_id}", json={},
                           headers=_auth(stage, A), timeout=60)
    task = handed.json()["id"]
    made = requests.post(f"{stage.direct}/api/predictions/", headers=stage.admin_headers, timeout=60,
                         json={"task": task, "result": choice("sourced"), "score": 0.9, "model_version": "leak"})
    assert made.status_code == 201, made.text
    seen = requests.get(f"{stage.base}/api/tasks/{task}?interaction=labelstream&project={pushed.project_id}",
                        headers=_auth(stage, A), timeout=60)
    assert seen.status_code == 200 and seen.json()["predictions"] == []


def test_r5_request_headers_are_bounded_in_all(stage: Stage) -> None:
    big = requests.get(f"{stage.base}/api/version", headers={**_auth(stage, A), "X-Pad": "x" * 20_000}, timeout=30)
    assert big.status_code == 431
    assert requests.get(f"{stage.base}/api/version", headers=_auth(stage, A), timeout=30).status_code == 200


def test_r6_json_nested_past_the_stack_is_a_400_not_a_crash(stage: Stage) -> None:
    for body in ('{"result":' + "[" * 100_000 + "]" * 100_000 + "}", '{"result":' + '{"a":' * 5_000 + "1" + "}" * 5_001):
        answer = requests.post(f"{stage.base}/api/tasks/1/annotations?project={stage.project}", data=body,
                               headers={**_auth(stage, A), "Content-Type": "application/json"}, timeout=60)
        assert answer.status_code == 400, answer.status_code


def test_r7_one_account_cannot_hog_the_label_stream(stage: Stage) -> None:
    """Within its request rate, one account asking for its next task 20 times a second slowed
    every other annotator's next task (on SQLite the hand-outs go one at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    def ask(_: int) -> int:
        return requests.post(f"{stage.base}/api/dm/actions?id=next_task&project={stage.project}", json={},
                             headers=_auth(stage, C), timeout=60).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(ask, range(40)))
    assert 429 in statuses and 200 in statuses
    time.sleep(1.5)  # the window passes: the other tests hand out again
