"""Bodies at the gateway, without a server: the media type each call takes, what is forwarded
(always re-serialised), and the limits in bytes and seconds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest
from starlette.requests import Request

from labeling.gateway.bodies import LIMITS, BodyError, clean_body, read_body
from labeling.gateway.rules import Body

ANSWER = {"result": [{"from_name": "label", "to_name": "sentence", "type": "choices",
                      "value": {"choices": ["opinion"]}}], "lead_time": 2.5}
# valid JSON *and* a valid form: finding 1 of issue 19 (Label Studio parsed it as a form)
BOTH_WAYS = b'{"result":"&result=%5B%5D&completed_by=3&ground_truth=true&x="}'


def _request(chunks: list[bytes], headers: Sequence[tuple[str, str]], *, pause: float = 0.0) -> Request:
    pending = chunks  # consumed as the body is read

    async def receive() -> dict[str, object]:
        if pause:
            await asyncio.sleep(pause)
        chunk = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    scope = {"type": "http", "method": "POST", "path": "/api/tasks/1/annotations", "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}
    return Request(scope, receive)


def _clean(body: bytes, *content_types: str, kind: Body = Body.answer) -> tuple[bytes, str] | None:
    request = _request([body], [("content-type", t) for t in content_types])
    return clean_body(request, kind, body)


@pytest.mark.parametrize("content_types", [
    ("application/x-www-form-urlencoded",),
    ("application/x-www-form-urlencoded; x=json",),  # "contains json": what the old gateway checked
    ("multipart/form-data; boundary=x",),
    ("text/plain",),
    ("text/json",),
    ("application/json; x=1",),  # a parameter other than the charset
    ("application/json; charset=latin-1",),
    ("application/jsonx",),
    ("application/json", "application/x-www-form-urlencoded"),  # two Content-Type headers
    ("application/json", "application/json"),
    (),  # none at all
])
def test_a_json_call_takes_application_json_only(content_types: tuple[str, ...]) -> None:
    with pytest.raises(BodyError) as refused:
        _clean(BOTH_WAYS, *content_types)
    assert refused.value.status == 415


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON", "application/json; charset=utf-8",
                                          'application/json;charset="UTF-8"'])
def test_what_is_forwarded_is_rebuilt_json_whatever_was_sent(content_type: str) -> None:
    sent = {**ANSWER, "completed_by": 3, "ground_truth": True, "task": 9, "project": "6", "was_cancelled": False,
            "updated_by": 3, "parent_annotation": 1, "import_id": 5}
    cleaned = _clean(json.dumps(sent).encode(), content_type)
    assert cleaned is not None
    body, media = cleaned
    assert media == "application/json"
    assert json.loads(body) == {**ANSWER, "was_cancelled": False}


def test_a_body_that_parses_both_ways_is_only_ever_json() -> None:
    cleaned = _clean(BOTH_WAYS, "application/json")
    assert cleaned is None  # `result` must be a list: refused (400), never a form


def test_an_update_sets_only_its_own_result_and_times() -> None:
    sent = {**ANSWER, "was_cancelled": True, "task": 355, "project": 6, "completed_by": 3, "ground_truth": True,
            "draft_id": 4, "started_at": "2026-12-06T07:07:11.928Z"}
    cleaned = _clean(json.dumps(sent).encode(), "application/json", kind=Body.update)
    assert cleaned is not None and json.loads(cleaned[0]) == {**ANSWER, "draft_id": 4,
                                                             "started_at": "2026-12-06T07:07:11.928Z"}


@pytest.mark.parametrize("bad", [{"result": "opinion"}, {"result": [1]}, {"lead_time": "1"}, {"lead_time": True},
                                 {"draft_id": -1}, {"was_cancelled": "true"}, {"unique_id": "x" * 65}])
def test_a_kept_key_of_the_wrong_type_refuses_the_call(bad: dict[str, object]) -> None:
    assert _clean(json.dumps({**ANSWER, **bad}).encode(), "application/json") is None


@pytest.mark.parametrize("body", [b"[]", b'"x"', b"{", b"\xff\xfe"])
def test_a_body_that_is_not_one_json_object_is_refused(body: bytes) -> None:
    assert _clean(body, "application/json") is None


def test_the_login_form_is_re_encoded_with_its_own_fields_only() -> None:
    form = b"email=a%40x.org&password=p%26q&csrfmiddlewaretoken=t&persist_session=on&is_superuser=1"
    cleaned = _clean(form, "application/x-www-form-urlencoded", kind=Body.form)
    assert cleaned == (b"email=a%40x.org&password=p%26q&csrfmiddlewaretoken=t&persist_session=on",
                       "application/x-www-form-urlencoded")
    assert _clean(b"email=a&email=b&password=p", "application/x-www-form-urlencoded", kind=Body.form) is None
    with pytest.raises(BodyError):
        _clean(form, "multipart/form-data; boundary=x", kind=Body.form)
    with pytest.raises(BodyError):
        _clean(b'{"email": "a"}', "application/json", kind=Body.form)


def test_a_call_that_takes_no_body_refuses_one() -> None:
    assert _clean(b'{"filters": {}}', "application/json", kind=Body.none) is None  # GET /next with filters
    assert _clean(b"", kind=Body.none) == (b"", "")


def test_next_task_forwards_an_empty_object_whatever_it_was_sent() -> None:
    sent = {"filters": {"conjunction": "and", "items": [{"filter": "filter:tasks:annotations_results"}]},
            "ordering": ["-tasks:total_annotations"], "selectedItems": {"all": True}}
    assert _clean(json.dumps(sent).encode(), "application/json", kind=Body.empty) == (b"{}", "application/json")


def test_a_body_past_its_limit_is_refused_from_its_declared_length_without_reading() -> None:
    request = _request([b"x" * 10], [("content-length", str(LIMITS[Body.answer] + 1))])
    with pytest.raises(BodyError) as refused:
        asyncio.run(read_body(request, Body.answer))
    assert refused.value.status == 413


def test_a_body_past_its_limit_is_refused_while_streaming() -> None:
    chunk = b"x" * 16_384
    sent = [chunk] * 100
    request = _request(sent, [])
    with pytest.raises(BodyError) as refused:
        asyncio.run(read_body(request, Body.draft))
    assert refused.value.status == 413
    assert len(sent) > 100 - (LIMITS[Body.draft] // len(chunk)) - 2  # it stopped reading right after the limit


def test_a_body_that_does_not_arrive_in_time_is_refused() -> None:
    request = _request([b"{", b"}"], [], pause=0.2)
    with pytest.raises(BodyError) as refused:
        asyncio.run(read_body(request, Body.answer, deadline=0.3))
    assert refused.value.status == 408


@pytest.mark.parametrize("lengths", [["10", "10"], ["ten"], ["-1"]])
def test_a_malformed_length_is_refused(lengths: list[str]) -> None:
    request = _request([b"{}"], [("content-length", v) for v in lengths])
    with pytest.raises(BodyError) as refused:
        asyncio.run(read_body(request, Body.answer))
    assert refused.value.status == 400
