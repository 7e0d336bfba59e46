"""Faults, in-process and over the control API, and the control API itself."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from service.devtools.fakezoom import FakeZoom, Fault, FaultKind, RunningFake

PARTICIPANTS = "/past_webinars/1/participants"
PARTICIPANTS_GLOB = "/v2/past_webinars/*/participants"


@pytest.fixture
def webinar(fake: FakeZoom) -> None:
    fake.world.add_webinar(1, participants=10, absentees=2, questions=2, polls=1)


def codes(response: httpx.Response) -> tuple[int, int]:
    return response.status_code, response.json()["code"]


@pytest.mark.usefixtures("webinar")
def test_qps_rate_limit_with_zoom_headers_then_recovery(fake: FakeZoom, api: httpx.Client) -> None:
    fault = fake.faults.rate_limit(PARTICIPANTS_GLOB, count=2)
    for _ in range(2):
        limited = api.get(PARTICIPANTS)
        assert codes(limited) == (429, 429)
        assert limited.headers["Retry-After"] == "1"
        assert limited.headers["X-RateLimit-Category"] == "Medium"
        assert limited.headers["X-RateLimit-Type"] == "QPS"
        assert limited.headers["X-RateLimit-Limit"] == "60"
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert "x-zm-trackingid" in limited.headers
    assert api.get(PARTICIPANTS).status_code == 200
    assert api.get("/past_webinars/1/qa").status_code == 200, "other paths are not affected"
    assert (fault.seen, fault.fired) == (3, 2)
    assert fake.calls("listWebinarParticipants", status=429) == 2
    assert [r.fault for r in fake.log.records("listWebinarParticipants")] == [
        "rate_limit",
        "rate_limit",
        None,
    ]


@pytest.mark.usefixtures("webinar")
def test_daily_rate_limit_retry_after_is_a_utc_midnight(fake: FakeZoom, api: httpx.Client) -> None:
    fake.faults.rate_limit(rate_limit_type="Daily-limit", path="/v2/past_webinars/*/absentees")
    limited = api.get("/past_webinars/1/absentees")
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Type"] == "Daily-limit"
    assert limited.headers["X-RateLimit-Category"] == "Heavy"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00Z", limited.headers["Retry-After"])
    assert "daily rate limit" in limited.json()["message"]
    fake.faults.rate_limit(retry_after="")
    assert "Retry-After" not in api.get(PARTICIPANTS).headers


@pytest.mark.usefixtures("webinar")
def test_server_errors_json_or_gateway_html(fake: FakeZoom, api: httpx.Client) -> None:
    fake.faults.server_error(status=503)
    fake.faults.server_error(status=502, body="<html><body>502 Bad Gateway</body></html>")
    assert codes(api.get(PARTICIPANTS)) == (503, 503)
    gateway = api.get(PARTICIPANTS)
    assert gateway.status_code == 502
    assert gateway.headers["content-type"].startswith("text/html")
    assert api.get(PARTICIPANTS).status_code == 200


@pytest.mark.usefixtures("webinar")
def test_not_ready_for_the_first_calls_to_one_endpoint(fake: FakeZoom, api: httpx.Client) -> None:
    fake.faults.not_ready("/v2/past_webinars/{webinarId}/qa", count=3)
    for _ in range(3):
        response = api.get("/past_webinars/1/qa")
        assert response.json() == {"code": 3001, "message": "Webinar ID is invalid or not end."}
        assert response.status_code == 404
        assert api.get(PARTICIPANTS).status_code == 200
    assert api.get("/past_webinars/1/qa").status_code == 200


@pytest.mark.usefixtures("webinar")
def test_token_invalidated_mid_run(fake: FakeZoom, api: httpx.Client) -> None:
    fake.faults.token_invalid()
    response = api.get(PARTICIPANTS)
    assert response.status_code == 401
    assert response.json() == {"code": 124, "message": "Invalid access token."}
    assert api.get(PARTICIPANTS).status_code == 200


@pytest.mark.usefixtures("webinar")
def test_page_token_expiry_only_hits_requests_with_a_page_token(
    fake: FakeZoom, api: httpx.Client
) -> None:
    fault = fake.faults.page_token_expired()
    first = api.get(PARTICIPANTS, params={"page_size": 4})
    assert first.status_code == 200
    params = {"page_size": 4, "next_page_token": first.json()["next_page_token"]}
    assert codes(api.get(PARTICIPANTS, params=params)) == (400, 300)
    assert api.get(PARTICIPANTS, params=params).status_code == 200
    assert (fault.seen, fault.fired) == (2, 1)


@pytest.mark.parametrize("code", [4711, 4700, 3000, 3003, 200, 1010])
@pytest.mark.usefixtures("webinar")
def test_permission_errors(fake: FakeZoom, api: httpx.Client, code: int) -> None:
    fake.faults.permission(code=code)
    response = api.get(PARTICIPANTS)
    assert codes(response) == (400, code)
    if code == 4711:
        assert response.json()["message"] == (
            "Invalid access token, does not contain scopes:"
            "[webinar:read:list_past_participants:admin, webinar:read:list_past_participants]."
        )


@pytest.mark.usefixtures("webinar")
def test_too_old_and_generic_errors(fake: FakeZoom, api: httpx.Client) -> None:
    fake.faults.too_old()
    assert api.get("/past_webinars/1/polls").json() == {
        "code": 12702,
        "message": "Can not access a webinar a year ago.",
    }
    fake.faults.add(kind=FaultKind.ERROR, status=404, code=1001, message="User does not exist: x.")
    assert api.get(PARTICIPANTS).json() == {"code": 1001, "message": "User does not exist: x."}


@pytest.mark.usefixtures("webinar")
def test_slow_responses_time_out_clients(
    fake: FakeZoom, server: RunningFake, api: httpx.Client
) -> None:
    fake.faults.slow(0.5)
    with pytest.raises(httpx.ReadTimeout):
        api.get(PARTICIPANTS, timeout=0.1)
    assert api.get(PARTICIPANTS, timeout=2).status_code == 200


@pytest.mark.usefixtures("webinar")
def test_skip_lets_requests_through_before_firing(fake: FakeZoom, api: httpx.Client) -> None:
    fake.faults.server_error(skip=2, count=1)
    assert [api.get(PARTICIPANTS).status_code for _ in range(4)] == [200, 200, 500, 200]


@pytest.mark.usefixtures("webinar")
def test_unlimited_faults_until_removed(fake: FakeZoom, api: httpx.Client) -> None:
    fault = fake.faults.server_error(count=None)
    assert [api.get(PARTICIPANTS).status_code for _ in range(3)] == [500] * 3
    assert fake.faults.remove(fault.id)
    assert api.get(PARTICIPANTS).status_code == 200


def test_faults_can_hit_the_token_endpoint(fake: FakeZoom, http: httpx.Client) -> None:
    fake.faults.server_error("/oauth/token")
    params = {"grant_type": "account_credentials", "account_id": fake.account_id}
    auth = (fake.client_id, fake.client_secret)
    assert http.post("/oauth/token", params=params, auth=auth).status_code == 500
    assert http.post("/oauth/token", params=params, auth=auth).status_code == 200
    assert fake.tokens_issued == 1


def test_faults_are_validated() -> None:
    with pytest.raises(ValueError, match="not_a_kind"):
        Fault(kind="not_a_kind")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rate_limit_type"):
        Fault(kind=FaultKind.RATE_LIMIT, rate_limit_type="hourly")
    with pytest.raises(ValueError, match="unknown fault fields"):
        Fault.from_json({"kind": "slow", "delay_seconds": 1})


# -- the control API (for a fake in another process) -------------------------------------------


@pytest.mark.usefixtures("webinar")
def test_faults_over_http(fake: FakeZoom, http: httpx.Client, api: httpx.Client) -> None:
    added = http.post(
        "/_fake/faults",
        json=[{"kind": "not_ready", "path": PARTICIPANTS_GLOB, "count": 2}, {"kind": "slow"}],
    )
    assert added.status_code == 201
    assert [f["id"] for f in added.json()["faults"]] == [f.id for f in fake.faults.all()]
    assert codes(api.get(PARTICIPANTS)) == (404, 3001)
    listed = http.get("/_fake/faults").json()["faults"]
    assert (listed[0]["seen"], listed[0]["fired"]) == (1, 1)
    assert http.delete(f"/_fake/faults/{listed[0]['id']}").status_code == 204
    assert http.delete(f"/_fake/faults/{listed[0]['id']}").status_code == 404
    assert api.get(PARTICIPANTS).status_code == 200
    assert http.delete("/_fake/faults").status_code == 204
    assert fake.faults.all() == []
    bad = http.post("/_fake/faults", json={"kind": "meteor"})
    assert bad.status_code == 400


@pytest.mark.usefixtures("webinar")
def test_log_stats_and_reset_over_http(
    fake: FakeZoom, http: httpx.Client, api: httpx.Client
) -> None:
    api.get(PARTICIPANTS, params={"page_size": 5})
    api.get("/past_webinars/1/qa")
    api.get("/past_webinars/1/attendees")
    records = http.get("/_fake/requests").json()["requests"]
    assert [(r["operation_id"], r["status"]) for r in records] == [
        ("listWebinarParticipants", 200),
        ("listPastWebinarQA", 200),
        (None, 400),
    ]
    assert records[0]["query"] == "page_size=5"
    assert records[0]["category"] == "Medium"
    only = http.get("/_fake/requests", params={"operation_id": "listPastWebinarQA"}).json()
    assert len(only["requests"]) == 1
    stats = http.get("/_fake/stats").json()
    assert stats["calls"] == {"listWebinarParticipants": 1, "listPastWebinarQA": 1, "unmatched": 1}
    assert stats["tokens_issued"] == 1
    assert http.post("/_fake/reset").status_code == 204
    assert http.get("/_fake/stats").json()["calls"] == {}
    assert api.get(PARTICIPANTS).status_code == 401, "reset forgets access tokens"


@pytest.mark.usefixtures("webinar")
def test_expire_tokens_over_http(http: httpx.Client, api: httpx.Client) -> None:
    token = api.get(PARTICIPANTS, params={"page_size": 5}).json()["next_page_token"]
    assert http.post("/_fake/page_tokens/expire").status_code == 204
    params: dict[str, Any] = {"page_size": 5, "next_page_token": token}
    assert codes(api.get(PARTICIPANTS, params=params)) == (400, 300)
    assert http.post("/_fake/tokens/expire").status_code == 204
    expired = api.get(PARTICIPANTS)
    assert expired.json() == {"code": 124, "message": "Access token is expired."}


def test_world_over_http(fake: FakeZoom, http: httpx.Client, api: httpx.Client) -> None:
    made = http.post(
        "/_fake/world/meetings",
        json={
            "meeting_id": 93398114182,
            "uuid": "/a//b==",
            "participants": 12,
            "seed": 3,
            "start_time": "2025-01-02T03:04:05Z",
        },
    )
    assert made.status_code == 201
    assert made.json()["persons"] == 11
    assert made.json()["start_time"] == "2025-01-02T03:04:05Z"
    assert fake.world.meeting("/a//b==").participants == 12
    webinar = http.post("/_fake/world/webinars", json={"webinar_id": 1, "absentees": 3}).json()
    world = http.get("/_fake/world").json()
    assert [w["uuid"] for w in world["webinars"]] == [webinar["uuid"]]
    assert [m["id"] for m in world["meetings"]] == [93398114182]
    assert http.post("/_fake/world/meetings", json={"meeting_id": 1, "bogus": 1}).status_code == 400
    assert http.post("/_fake/world/rooms", json={}).status_code == 404
    assert api.get("/past_meetings/93398114182/participants").json()["total_records"] == 12
