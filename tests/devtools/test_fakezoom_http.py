"""The fake Zoom over real HTTP: pagination, UUID encoding, spec checks, OAuth, response shapes."""

from __future__ import annotations

import math
import resource
from typing import Any

import httpx
import pytest

from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    NOT_IMPLEMENTED_CODE,
    SPEC_VIOLATION_CODE,
    FakeZoom,
    ManualClock,
    RunningFake,
    encode_path_id,
    running,
)

CLIENT_TIMEOUT = 10.0

DOUBLE = "/Zm9vYmFy//YmF6cXV4eg=="  # begins with '/' and contains '//'
SINGLE_SLASH = "Bznyg8KZTdCVbQxvS/oZ7w=="


def fetch_all(
    api: httpx.Client, path: str, key: str, page_size: int, **query: str
) -> list[dict[str, Any]]:
    """Follow `next_page_token` to the end; check every page's bookkeeping on the way."""
    rows: list[dict[str, Any]] = []
    params: dict[str, Any] = {"page_size": page_size, **query}
    while True:
        response = api.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["page_size"] == page_size
        assert body["page_count"] == math.ceil(body["total_records"] / page_size)
        assert len(body[key]) <= page_size
        rows.extend(body[key])
        if body["next_page_token"] == "":
            assert len(rows) == body["total_records"]
            return rows
        assert len(body[key]) == page_size
        params = {"page_size": page_size, "next_page_token": body["next_page_token"], **query}


@pytest.mark.parametrize(
    ("participants", "page_size", "pages"),
    [(0, 30, 1), (300, 300, 1), (301, 300, 2), (1_000, 30, 34)],
)
def test_participants_paginate_to_the_last_page(
    fake: FakeZoom, api: httpx.Client, participants: int, page_size: int, pages: int
) -> None:
    inst = fake.world.add_webinar(81234567890, participants=participants, seed=participants)
    rows = fetch_all(api, "/past_webinars/81234567890/participants", "participants", page_size)
    assert rows == list(inst.iter_participants())
    assert fake.calls("listWebinarParticipants") == pages


def test_default_page_size_is_30(fake: FakeZoom, api: httpx.Client) -> None:
    fake.world.add_meeting(93398114182, participants=31)
    body = api.get("/past_meetings/93398114182/participants").json()
    assert (body["page_size"], body["page_count"], len(body["participants"])) == (30, 2, 30)


def test_absentees_paginate_and_need_registration(fake: FakeZoom, api: httpx.Client) -> None:
    inst = fake.world.add_webinar(1, "with-reg", participants=3, absentees=65, seed=2)
    rows = fetch_all(api, f"/past_webinars/{inst.uuid}/absentees", "registrants", 30)
    assert rows == list(inst.iter_absentees())
    fake.world.add_webinar(2, "no-reg", absentees=5, registration=False)
    response = api.get("/past_webinars/no-reg/absentees")
    assert response.status_code == 400
    assert response.json() == {
        "code": 3000,
        "message": "This Webinar has not registration required: no-reg",
    }


def test_registrants_list_by_status_and_join_participants_and_absentees(
    fake: FakeZoom, api: httpx.Client
) -> None:
    inst = fake.world.add_webinar(
        7, participants=25, absentees=40, pending_registrants=33, denied_registrants=1, seed=8
    )
    by_status = {
        status: fetch_all(api, "/webinars/7/registrants", "registrants", 30, status=status)
        for status in ("approved", "pending", "denied")
    }
    assert [len(by_status[s]) for s in ("pending", "denied")] == [33, 1]
    for status, rows in by_status.items():
        assert {r["status"] for r in rows} == {status}
        assert all(len(r["custom_questions"]) >= 1 for r in rows)
    approved = {r["id"] for r in by_status["approved"]}
    registered = {p["registrant_id"] for p in inst.iter_participants()} - {""}
    assert registered and registered <= approved
    assert {a["id"] for a in inst.iter_absentees()} <= approved
    assert len(approved) == len(registered) + 40
    ids = [r["id"] for rows in by_status.values() for r in rows]
    assert len(ids) == len(set(ids))
    # Zoom's default status is approved; a page token serves only the listing it came from.
    first = api.get("/webinars/7/registrants", params={"page_size": 30}).json()
    assert first["registrants"] == by_status["approved"][:30]
    other = api.get(
        "/webinars/7/registrants",
        params={"status": "pending", "next_page_token": first["next_page_token"]},
    )
    assert (other.status_code, other.json()["code"]) == (400, 300)
    bad = api.get("/webinars/7/registrants", params={"status": "cancelled"})
    assert (bad.status_code, bad.json()["code"]) == (400, SPEC_VIOLATION_CODE)


def test_report_participants_carry_registrant_ids_only_when_asked(
    fake: FakeZoom, api: httpx.Client
) -> None:
    inst = fake.world.add_webinar(9, participants=31, seed=2)
    path = "/report/webinars/9/participants"
    plain = fetch_all(api, path, "participants", 30)
    assert len(plain) == 31 and all("registrant_id" not in r for r in plain)
    asked = fetch_all(api, path, "participants", 30, include_fields="registrant_id")
    past = list(inst.iter_participants())
    assert [r["registrant_id"] for r in asked] == [p["registrant_id"] for p in past]
    assert [r["join_time"] for r in asked] == [p["join_time"] for p in past]
    assert all(r["customer_key"] and "participant_user_id" in r for r in asked)


def test_withheld_scopes_answer_4711_naming_them(fake: FakeZoom, api: httpx.Client) -> None:
    fake.world.add_meeting(3, participants=2)
    fake.withheld_scopes = frozenset({"report:read:admin"})
    response = api.get("/report/meetings/3/participants")
    assert (response.status_code, response.json()["code"]) == (400, 4711)
    assert "report:read:admin" in response.json()["message"]
    assert api.get("/past_meetings/3/participants").status_code == 200


def test_page_tokens_expire_are_reusable_and_bound_to_their_listing(
    fake: FakeZoom, api: httpx.Client, clock: ManualClock
) -> None:
    fake.world.add_webinar(1, "a", participants=10)
    fake.world.add_webinar(2, "b", participants=10)
    token = api.get("/past_webinars/a/participants", params={"page_size": 4}).json()[
        "next_page_token"
    ]
    again = {"page_size": 4, "next_page_token": token}
    first = api.get("/past_webinars/a/participants", params=again)
    retried = api.get("/past_webinars/a/participants", params=again)
    assert first.status_code == retried.status_code == 200
    assert first.json()["participants"] == retried.json()["participants"], "a retry is harmless"
    wrong = api.get("/past_webinars/b/participants", params=again)
    assert (wrong.status_code, wrong.json()["code"]) == (400, 300)
    clock.advance(30)  # the fixture fake's page-token TTL
    expired = api.get("/past_webinars/a/participants", params=again)
    assert expired.status_code == 400
    assert expired.json() == {"code": 300, "message": "The next page token is invalid or expired."}


def test_double_encoded_uuid_is_required_when_zoom_says_so(
    fake: FakeZoom, api: httpx.Client
) -> None:
    fake.world.add_meeting(1, DOUBLE, participants=2)
    fake.world.add_meeting(2, SINGLE_SLASH, participants=3)
    twice = encode_path_id(DOUBLE)
    assert twice == "%252FZm9vYmFy%252F%252FYmF6cXV4eg%253D%253D"
    assert api.get(f"/past_meetings/{twice}/participants").json()["total_records"] == 2
    once = "%2FZm9vYmFy%2F%2FYmF6cXV4eg%3D%3D"
    rejected = api.get(f"/past_meetings/{once}/participants")
    assert (rejected.status_code, rejected.json()["code"]) == (404, 3001)
    assert "encoded twice" in rejected.json()["fakezoom_hint"]
    assert api.get(f"/past_meetings/{encode_path_id(SINGLE_SLASH)}").json()["uuid"] == SINGLE_SLASH
    needless = "Bznyg8KZTdCVbQxvS%252FoZ7w%253D%253D"
    assert api.get(f"/past_meetings/{needless}/qa").json()["uuid"] == SINGLE_SLASH
    raw = api.get(f"/past_meetings/{SINGLE_SLASH}/qa")
    assert (raw.status_code, raw.json()["code"]) == (400, SPEC_VIOLATION_CODE)
    assert fake.log.records()[-1].raw_path == f"/v2/past_meetings/{SINGLE_SLASH}/qa"


@pytest.mark.parametrize(
    ("method", "path", "params", "reason"),
    [
        ("GET", "/past_webinars/1/attendees", {}, "unknown_path"),
        ("GET", "/past_webinars/1/participants", {"page_number": 2}, "unknown_query_parameter"),
        ("GET", "/past_webinars/1/participants", {"page_size": 301}, "bad_query_value"),
        ("GET", "/past_webinars/1/participants", {"page_size": "ten"}, "bad_query_value"),
        ("GET", "/past_webinars/1/participants", {"page_size": 0}, "bad_query_value"),
        ("POST", "/past_webinars/1/participants", {}, "method_not_in_spec"),
        ("GET", "/past_webinars/abc%3D%3D/instances", {}, "bad_path_parameter"),
    ],
)
def test_requests_outside_the_spec_get_a_loud_400(
    fake: FakeZoom, api: httpx.Client, method: str, path: str, params: dict[str, Any], reason: str
) -> None:
    fake.world.add_webinar(1, participants=1)
    response = api.request(method, path, params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == SPEC_VIOLATION_CODE
    assert body["fakezoom"]["reason"] == reason
    assert body["message"].startswith("fakezoom: request does not match the Zoom API spec")
    assert response.headers["x-zm-trackingid"].startswith("v=2.0;clid=fake;rid=WEB_")


def test_spec_operations_the_fake_does_not_serve_answer_501(api: httpx.Client) -> None:
    response = api.get("/report/webinars/1/qa")
    assert (response.status_code, response.json()["code"]) == (501, NOT_IMPLEMENTED_CODE)


def test_unknown_ids_are_3001(api: httpx.Client) -> None:
    for path in ("/past_webinars/404/qa", "/past_meetings/nope==/polls", "/past_meetings/1"):
        response = api.get(path)
        assert (response.status_code, response.json()["code"]) == (404, 3001)


def test_every_response_matches_the_spec_schema(fake: FakeZoom, api: httpx.Client) -> None:
    web = fake.world.add_webinar(
        1, participants=12, absentees=4, questions=6, polls=2, seed=5, pending_registrants=3
    )
    meet = fake.world.add_meeting(2, DOUBLE, participants=12, questions=3, polls=1, seed=6)
    fake.world.add_recording(meet, ("MP4", "M4A", "TRANSCRIPT", "CC"), participant_audio=1)
    w, m = encode_path_id(web.uuid), encode_path_id(meet.uuid)
    calls = {
        "listWebinarParticipants": f"/past_webinars/{w}/participants",
        "webinarAbsentees": f"/past_webinars/{w}/absentees",
        "listPastWebinarQA": f"/past_webinars/{w}/qa",
        "listPastWebinarPollResults": f"/past_webinars/{w}/polls",
        "pastWebinars": "/past_webinars/1/instances",
        "pastMeetingDetails": f"/past_meetings/{m}",
        "pastMeetingParticipants": f"/past_meetings/{m}/participants",
        "listPastMeetingQA": f"/past_meetings/{m}/qa",
        "listPastMeetingPolls": "/past_meetings/2/polls",
        "pastMeetings": "/past_meetings/2/instances",
        "webinarRegistrants": "/webinars/1/registrants?status=pending",
        "reportWebinarDetails": f"/report/webinars/{w}",
        "reportWebinarParticipants": f"/report/webinars/{w}/participants"
        "?include_fields=registrant_id",
        "reportMeetingDetails": f"/report/meetings/{m}",
        "reportMeetingParticipants": f"/report/meetings/{m}/participants",
        "recordingGet": f"/meetings/{m}/recordings?include_fields=download_access_token",
    }
    for operation_id, path in calls.items():
        response = api.get(path)
        assert response.status_code == 200, (path, response.text)
        assert fake.spec.validate_response(operation_id, response.json()) == [], operation_id
        assert fake.log.records()[-1].operation_id == operation_id
        assert response.headers["x-zm-trackingid"] == fake.log.records()[-1].tracking_id
        assert response.headers["content-type"] == "application/json;charset=UTF-8"
        category = fake.spec.operation(operation_id).category
        assert response.headers["x-ratelimit-category"] == category


def test_instances_list_and_numeric_id_resolve_to_the_latest(
    fake: FakeZoom, api: httpx.Client
) -> None:
    older = fake.world.add_meeting(5, participants=1)
    latest = fake.world.add_meeting(5, participants=2)
    listing = api.get("/past_meetings/5/instances").json()["meetings"]
    assert [i["uuid"] for i in listing] == [older.uuid, latest.uuid]
    assert api.get("/past_meetings/5").json()["uuid"] == latest.uuid
    fake.world.add_meeting(6, "old==", participants=1, too_old=True)
    gone = api.get("/past_meetings/old==/participants")
    assert gone.json() == {"code": 12702, "message": "Can not access a meeting a year ago."}


def token_request(http: httpx.Client, **overrides: Any) -> httpx.Response:
    params = {"grant_type": "account_credentials", "account_id": DEFAULT_ACCOUNT_ID}
    auth = overrides.pop("auth", (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
    params.update(overrides)
    return http.post(
        "/oauth/token", params={k: v for k, v in params.items() if v is not None}, auth=auth
    )


def test_oauth_issues_tokens_that_expire(
    fake: FakeZoom, server: RunningFake, http: httpx.Client, clock: ManualClock
) -> None:
    response = token_request(http)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 59  # the fixture's 60 s lifetime, reported like Zoom's 3599
    assert set(body["scope"].split()) >= {"meeting:read:admin", "webinar:read:admin"}
    assert "x-zm-trackingid" in response.headers
    assert fake.tokens_issued == 1
    fake.world.add_webinar(1, participants=1)
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert http.get("/v2/past_webinars/1/qa", headers=headers).status_code == 200
    clock.advance(60)  # the fixture fake's token lifetime
    expired = http.get("/v2/past_webinars/1/qa", headers=headers)
    assert expired.status_code == 401
    assert expired.json() == {"code": 124, "message": "Access token is expired."}
    for bad in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        response = http.get("/v2/past_webinars/1/qa", headers=bad)
        assert response.status_code == 401
        assert response.json() == {"code": 124, "message": "Invalid access token."}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"auth": (DEFAULT_CLIENT_ID, "wrong")}, "invalid_client"),
        ({"auth": None}, "invalid_request"),
        ({"account_id": "someone-else"}, "invalid_request"),
        ({"grant_type": None}, "invalid_request"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ],
)
def test_oauth_rejects_bad_requests(
    fake: FakeZoom, http: httpx.Client, overrides: dict[str, Any], error: str
) -> None:
    response = token_request(http, **overrides)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["reason"]
    assert fake.tokens_issued == 0


def test_oauth_accepts_a_form_body_and_counts_issuances(fake: FakeZoom, http: httpx.Client) -> None:
    form = {"grant_type": "account_credentials", "account_id": DEFAULT_ACCOUNT_ID}
    auth = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    tokens = {
        http.post("/oauth/token", data=form, auth=auth).json()["access_token"] for _ in range(3)
    }
    assert len(tokens) == 3
    assert fake.tokens_issued == 3
    assert fake.calls("oauthToken") == 3


def test_single_active_token_mode_invalidates_older_tokens() -> None:
    fake = FakeZoom(single_active_token=True)
    fake.world.add_meeting(1, participants=1)
    with running(fake) as srv, httpx.Client(base_url=srv.base_url, timeout=CLIENT_TIMEOUT) as http:
        first, second = (token_request(http).json()["access_token"] for _ in range(2))
        old = http.get("/v2/past_meetings/1/qa", headers={"Authorization": f"Bearer {first}"})
        new = http.get("/v2/past_meetings/1/qa", headers={"Authorization": f"Bearer {second}"})
    assert (old.status_code, new.status_code) == (401, 200)


def test_100k_participants_paginate_cheaply(fake: FakeZoom, api: httpx.Client) -> None:
    inst = fake.world.add_webinar(1, participants=100_000, seed=42)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    count, seen = 0, set[tuple[str, str]]()
    params: dict[str, Any] = {"page_size": 300}
    while True:
        body = api.get("/past_webinars/1/participants", params=params).json()
        count += len(body["participants"])
        seen.update((p["user_id"], p["join_time"]) for p in body["participants"])
        if not body["next_page_token"]:
            break
        params["next_page_token"] = body["next_page_token"]
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert count == len(seen) == 100_000 == inst.participants
    assert fake.calls("listWebinarParticipants") == math.ceil(100_000 / 300)
    # Loose: 100k row dicts held at once would take well over 100 MiB; `seen` takes ~15 MiB.
    assert grown < 100 * 1024, f"peak RSS grew by {grown} KiB"
