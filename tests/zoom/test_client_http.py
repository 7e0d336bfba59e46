"""The real client against the fake Zoom over real HTTP (uvicorn on a free port)."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from service.devtools.fakezoom import SPEC_VIOLATION_CODE, FakeZoom, RunningFake
from service.zoom.backoff import RetryPolicy
from service.zoom.client import ZoomClient
from service.zoom.endpoints import RECORDING_TOKEN_QUERY
from service.zoom.errors import Outcome
from service.zoom.exceptions import RateLimited, TokenUnavailable, ZoomAPIError
from service.zoom.pagination import ListingRestarted
from service.zoom.ratelimit import DEFAULT_DAILY_RESET_MARGIN, seconds_until_next_utc_midnight
from service.zoom.tokens import MemoryTokenStore

MakeClient = Callable[..., ZoomClient]

WEBINAR_ID = 81234567890
MEETING_ID = 93398114182


def no_spec_violations(fake: FakeZoom) -> None:
    assert all(r.code != SPEC_VIOLATION_CODE for r in fake.log.records())
    assert fake.calls("unmatched") == 0


def records(pages: Any) -> list[dict[str, Any]]:
    return [row for page in pages for row in page.records]


# -- pagination ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("rows", "pages"), [(0, 1), (7, 1), (300, 1), (301, 2), (1234, 5)])
def test_webinar_participants_walk_every_page(
    fake: FakeZoom, client: ZoomClient, rows: int, pages: int
) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, participants=rows)
    seen = list(client.past_webinar_participants(inst.uuid))
    assert len(seen) == pages
    assert records(seen) == list(inst.iter_participants())
    assert all(p.total_records == rows and p.tracking_id for p in seen)
    assert fake.calls("listWebinarParticipants") == pages
    assert all("page_size=300" in r.query for r in fake.log.records("listWebinarParticipants"))
    no_spec_violations(fake)


def test_meeting_participants_by_numeric_id_mean_the_latest_instance(
    fake: FakeZoom, client: ZoomClient
) -> None:
    fake.world.add_meeting(MEETING_ID, participants=3)
    latest = fake.world.add_meeting(MEETING_ID, participants=650, seed=2)
    assert records(client.past_meeting_participants(MEETING_ID)) == list(latest.iter_participants())
    no_spec_violations(fake)


def test_absentees_pass_the_occurrence_id(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, absentees=450)
    seen = list(client.past_webinar_absentees(inst.uuid, occurrence_id="1648194360000"))
    assert records(seen) == list(inst.iter_absentees())
    sent = fake.log.records("webinarAbsentees")
    assert all("occurrence_id=1648194360000" in r.query for r in sent)
    no_spec_violations(fake)


@pytest.mark.slow
def test_a_large_listing_streams_in_flat_memory(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, participants=30_000)
    tracemalloc.start()
    try:
        count = 0
        for page in client.past_webinar_participants(inst.uuid):
            count += len(page.records)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 30_000 and fake.calls("listWebinarParticipants") == 100
    assert peak < 12_000_000  # holding every row would take about 30 MB (fake included)


def test_an_expired_page_token_restarts_the_listing(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, participants=900)
    events: list[ListingRestarted] = []
    pages = client.past_webinar_participants(inst.uuid, on_restart=events.append)
    first = next(pages)
    fake.page_tokens.expire_all()  # the consumer took longer than Zoom's 15 minutes
    rest = list(pages)
    assert [p.number for p in [first, *rest]] == [1, 1, 2, 3]
    assert [p.restarts for p in rest] == [1, 1, 1]
    assert records(rest) == list(inst.iter_participants())
    assert len(events) == 1 and events[0].pages_before == 1 and events[0].tracking_id
    assert fake.calls("listWebinarParticipants", 400) == 1


def test_restarts_are_bounded_over_http(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, participants=400)
    fake.faults.page_token_expired(count=None)
    with pytest.raises(ZoomAPIError) as caught:
        list(client.past_webinar_participants(inst.uuid))
    assert caught.value.outcome is Outcome.PAGE_TOKEN_EXPIRED
    assert caught.value.tracking_id


# -- identifiers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uuid", "on_the_wire"),
    [
        ("/ajXp112QmuoKj4854875==", "%252FajXp112QmuoKj4854875%253D%253D"),
        ("ab//cdEFgh+ij5==", "ab%252F%252FcdEFgh%252Bij5%253D%253D"),
        ("Bznyg8KZTdCVbQxvS/oZ7w==", "Bznyg8KZTdCVbQxvS%2FoZ7w%3D%3D"),
    ],
)
def test_uuids_are_encoded_as_zoom_requires(
    fake: FakeZoom, client: ZoomClient, uuid: str, on_the_wire: str
) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, uuid=uuid, participants=5, questions=3, polls=1)
    assert records(client.past_webinar_participants(uuid)) == list(inst.iter_participants())
    assert client.past_webinar_qa(uuid).body["uuid"] == uuid
    assert client.past_webinar_polls(uuid).records == inst.poll_results()
    api_calls = [r for r in fake.log.records() if r.operation_id != "oauthToken"]
    assert all(on_the_wire in r.raw_path for r in api_calls)
    no_spec_violations(fake)


def test_single_object_endpoints(fake: FakeZoom, client: ZoomClient) -> None:
    meeting = fake.world.add_meeting(MEETING_ID, participants=12, questions=4, polls=2)
    webinar = fake.world.add_webinar(WEBINAR_ID, questions=2, polls=1, participants=3)
    details = client.past_meeting(meeting.uuid)
    assert details.body == meeting.details() and details.tracking_id and details.records == []
    assert client.past_meeting_qa(MEETING_ID).records == meeting.qa()
    assert client.past_meeting_polls(MEETING_ID).records == meeting.poll_results()
    assert [i["uuid"] for i in client.past_meeting_instances(MEETING_ID).records] == [meeting.uuid]
    assert [i["uuid"] for i in client.past_webinar_instances(WEBINAR_ID).records] == [webinar.uuid]
    no_spec_violations(fake)


class CountingPacer:
    """A pacer that lets every call go and notes the category it was asked for."""

    def __init__(self) -> None:
        self.categories: list[str] = []

    def acquire(self, category: str) -> None:
        self.categories.append(category)

    def rate_limited(self, category: str, retry_after: float, *, daily: bool) -> None:
        raise AssertionError("no 429 expected")


def test_recordings_of_a_meeting_and_a_webinar_paced_as_light(
    fake: FakeZoom, make_client: MakeClient
) -> None:
    pacer = CountingPacer()
    client = make_client(pacer=pacer)
    meeting = fake.world.add_meeting(MEETING_ID, uuid="/ajXp112QmuoKj4854875==")
    webinar = fake.world.add_webinar(WEBINAR_ID)
    fake.world.add_recording(meeting, ("MP4",))
    fake.world.add_recording(webinar, ("M4A", "CHAT"))
    query = RECORDING_TOKEN_QUERY
    got = client.meeting_recordings(meeting.uuid, query=query).body
    assert got["uuid"] == meeting.uuid and got["download_access_token"]
    assert "%252F" in fake.log.records("recordingGet")[-1].raw_path  # encoded twice
    files = client.meeting_recordings(WEBINAR_ID).body["recording_files"]
    assert [f["file_type"] for f in files] == ["M4A", "CHAT"]
    assert pacer.categories == ["Light", "Light"]
    assert fake.log.records("recordingGet")[-1].category == "Light"
    with pytest.raises(ZoomAPIError) as caught:
        client.meeting_recordings(MEETING_ID + 1)
    assert (caught.value.status, caught.value.zoom_code) == (404, 3301)
    fake.faults.permission(path="/v2/meetings/*/recordings", code=4711, count=1)
    with pytest.raises(ZoomAPIError) as refused:
        client.meeting_recordings(meeting.uuid)
    assert refused.value.outcome is Outcome.PERMISSION
    assert "cloud_recording:read:list_recording_files:admin" in refused.value.advice
    no_spec_violations(fake)


# -- tokens -------------------------------------------------------------------------------------


def test_one_token_serves_many_calls(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, participants=1000, questions=1)
    list(client.past_webinar_participants(inst.uuid))
    client.past_webinar_qa(inst.uuid)
    assert fake.tokens_issued == 1


@pytest.mark.parametrize("how", ["fault", "expired"])
def test_a_refused_token_is_renewed_once_and_the_call_retried(
    fake: FakeZoom, client: ZoomClient, how: str
) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, questions=2)
    client.past_webinar_qa(inst.uuid)
    if how == "fault":
        fake.faults.token_invalid(count=1)
    else:
        fake.access_tokens.expire_all()  # Zoom: 124 "Access token is expired."
    assert client.past_webinar_qa(inst.uuid).records == inst.qa()
    assert fake.tokens_issued == 2
    assert fake.calls("listPastWebinarQA", 401) == 1


def test_a_token_refused_twice_is_an_error(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, questions=2)
    fake.faults.token_invalid(count=None)
    with pytest.raises(ZoomAPIError) as caught:
        client.past_webinar_qa(inst.uuid)
    assert caught.value.outcome is Outcome.TOKEN_EXPIRED and caught.value.zoom_code == 124
    assert fake.calls("listPastWebinarQA") == 2 and fake.tokens_issued == 2


def test_the_token_is_renewed_before_it_expires(fake: FakeZoom, make_client: MakeClient) -> None:
    now = [time.time()]
    client = make_client(clock=lambda: now[0])
    inst = fake.world.add_webinar(WEBINAR_ID, questions=1)
    client.past_webinar_qa(inst.uuid)
    now[0] += 3400  # about three minutes short of expiry: inside the renewal margin
    client.past_webinar_qa(inst.uuid)
    assert fake.tokens_issued == 2
    assert fake.calls("listPastWebinarQA", 401) == 0


def test_workers_starting_together_fetch_one_token(fake: FakeZoom, make_client: MakeClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, questions=1)
    fake.faults.slow(0.2, path="/oauth/token", count=None)  # widen the race
    store = MemoryTokenStore()  # stands for the database table all processes share
    clients = [make_client(token_store=store) for _ in range(12)]
    barrier = threading.Barrier(len(clients))
    errors: list[BaseException] = []

    def work(c: ZoomClient) -> None:
        barrier.wait()
        try:
            c.past_webinar_qa(inst.uuid)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert fake.tokens_issued == 1
    assert fake.calls("listPastWebinarQA", 200) == len(clients)


def test_threads_of_one_client_fetch_one_token(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, questions=1)
    fake.faults.slow(0.1, path="/oauth/token", count=None)
    threads = [threading.Thread(target=client.past_webinar_qa, args=(inst.uuid,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake.tokens_issued == 1 and fake.calls("listPastWebinarQA", 200) == 8


def test_wrong_credentials_are_a_permission_error_without_the_secret(
    fake: FakeZoom, make_client: MakeClient
) -> None:
    client = make_client(client_secret="wrong-secret-value")
    with pytest.raises(TokenUnavailable) as caught:
        client.past_meeting(MEETING_ID)
    assert caught.value.outcome is Outcome.PERMISSION and caught.value.status == 400
    assert "wrong-secret-value" not in str(caught.value)
    assert "wrong-secret-value" not in repr(client)
    assert fake.calls("pastMeetingDetails") == 0


# -- retries and rate limits --------------------------------------------------------------------


def test_5xx_is_retried_with_backoff(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, participants=10)
    fake.faults.server_error(count=2, status=503)
    assert len(records(client.past_webinar_participants(inst.uuid))) == 10
    assert fake.calls("listWebinarParticipants") == 3


def test_5xx_beyond_the_budget_is_transient(
    fake: FakeZoom, client: ZoomClient, retry_policy: RetryPolicy
) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, questions=1)
    fake.faults.add(kind="server_error", status=502, count=None, body="<html>Bad gateway</html>")
    with pytest.raises(ZoomAPIError) as caught:
        client.past_webinar_qa(inst.uuid)
    assert caught.value.outcome is Outcome.TRANSIENT and caught.value.status == 502
    assert fake.calls("listPastWebinarQA") == retry_policy.max_retries + 1


def test_the_oauth_endpoint_is_retried_too(fake: FakeZoom, client: ZoomClient) -> None:
    fake.world.add_meeting(MEETING_ID)
    fake.faults.server_error(path="/oauth/token", count=1)
    client.past_meeting(MEETING_ID)
    assert fake.tokens_issued == 1 and fake.calls("oauthToken") == 2


def test_a_read_timeout_is_retried(fake: FakeZoom, client: ZoomClient) -> None:
    meeting = fake.world.add_meeting(MEETING_ID)
    slow = fake.faults.slow(1.5, path="/v2/past_meetings/*", count=1)  # past the 1 s timeout
    assert client.past_meeting(MEETING_ID).body["uuid"] == meeting.uuid
    assert slow.fired == 1
    # The abandoned first request is logged once the fake finishes sleeping on it.
    deadline = time.monotonic() + 5
    while fake.calls("pastMeetingDetails") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.calls("pastMeetingDetails") == 2


def test_unreachable_zoom_is_transient(server: RunningFake, make_client: MakeClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = make_client(api_base_url=f"http://127.0.0.1:{closed_port}/v2")
    with pytest.raises(ZoomAPIError) as caught:
        client.past_meeting(MEETING_ID)
    assert caught.value.outcome is Outcome.TRANSIENT and "ConnectError" in str(caught.value)


def test_429_per_second_raises_rate_limited_at_once(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, participants=10)
    fake.faults.rate_limit(count=1, retry_after="3")
    with pytest.raises(RateLimited) as caught:
        list(client.past_webinar_participants(inst.uuid))
    error = caught.value
    assert (error.retry_after_seconds, error.category, error.daily) == (3.0, "Medium", False)
    assert error.outcome is Outcome.RATE_LIMITED and error.tracking_id
    assert fake.calls("listWebinarParticipants") == 1  # no sleeping retry inside the worker


def test_429_without_retry_after_waits_per_category(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, absentees=10)
    fake.faults.rate_limit(count=1, retry_after="")
    with pytest.raises(RateLimited) as caught:
        list(client.past_webinar_absentees(inst.uuid))
    assert caught.value.category == "Heavy" and caught.value.retry_after_seconds == 5.0


def test_daily_429_parks_until_after_utc_midnight(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, questions=1)
    fake.faults.rate_limit(count=1, rate_limit_type="Daily-limit")
    with pytest.raises(RateLimited) as caught:
        client.past_webinar_qa(inst.uuid)
    expected = seconds_until_next_utc_midnight(time.time()) + DEFAULT_DAILY_RESET_MARGIN
    assert caught.value.daily
    assert abs(caught.value.retry_after_seconds - expected) < 5


# -- the taxonomy, branch by branch -------------------------------------------------------------


def test_not_ready(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, participants=5)
    fake.faults.not_ready(count=1)
    with pytest.raises(ZoomAPIError) as caught:
        list(client.past_webinar_participants(inst.uuid))
    assert caught.value.outcome is Outcome.NOT_READY and caught.value.zoom_code == 3001
    assert len(records(client.past_webinar_participants(inst.uuid))) == 5  # later, it is there


def test_unknown_instance_is_not_ready(client: ZoomClient) -> None:
    with pytest.raises(ZoomAPIError) as caught:
        client.past_meeting("Vg8IdgluR5WDeWIkpJlElQ==")
    assert caught.value.outcome is Outcome.NOT_READY and caught.value.status == 404


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        (4711, "webinar:read:list_past_participants:admin"),
        (4700, "webinar:read:admin"),
        (3003, "not the host"),
        (3000, "role"),
        (200, "paid plan"),
        (1010, "different accounts"),
    ],
)
def test_permission(fake: FakeZoom, client: ZoomClient, code: int, needle: str) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, participants=5)
    fake.faults.permission(code=code, count=1)
    with pytest.raises(ZoomAPIError) as caught:
        list(client.past_webinar_participants(inst.uuid))
    assert caught.value.outcome is Outcome.PERMISSION and caught.value.zoom_code == code
    assert needle in caught.value.advice


def test_scope_error_names_the_missing_scopes(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, absentees=1)
    fake.faults.permission(code=4711, count=1)
    with pytest.raises(ZoomAPIError) as caught:
        list(client.past_webinar_absentees(inst.uuid))
    missing = caught.value.missing_scopes
    assert missing and all(scope in caught.value.advice for scope in missing)
    assert "webinar:read:list_absentees:admin" in caught.value.advice


def test_not_applicable(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_webinar(WEBINAR_ID, participants=5, registration=False)
    with pytest.raises(ZoomAPIError) as caught:
        list(client.past_webinar_absentees(inst.uuid))
    assert caught.value.outcome is Outcome.NOT_APPLICABLE and caught.value.zoom_code == 3000


def test_too_old(fake: FakeZoom, client: ZoomClient) -> None:
    inst = fake.world.add_meeting(MEETING_ID, participants=5, too_old=True)
    with pytest.raises(ZoomAPIError) as caught:
        list(client.past_meeting_participants(inst.uuid))
    assert caught.value.outcome is Outcome.TOO_OLD and caught.value.zoom_code == 12702
    assert fake.calls("pastMeetingParticipants") == 1


def test_fatal(fake: FakeZoom, client: ZoomClient) -> None:
    fake.world.add_meeting(MEETING_ID)
    fake.faults.add(kind="error", status=400, code=1234, message="Something odd.", count=1)
    with pytest.raises(ZoomAPIError) as caught:
        client.past_meeting(MEETING_ID)
    assert caught.value.outcome is Outcome.FATAL and "Something odd." in str(caught.value)


def test_an_error_body_inside_a_200_is_an_error(fake: FakeZoom, client: ZoomClient) -> None:
    fake.world.add_meeting(MEETING_ID)
    fake.faults.add(kind="error", status=200, code=200, message="No permission.", count=1)
    with pytest.raises(ZoomAPIError) as caught:
        client.past_meeting(MEETING_ID)
    assert caught.value.outcome is Outcome.PERMISSION


def test_numeric_only_endpoints_refuse_uuids_before_calling(
    fake: FakeZoom, client: ZoomClient
) -> None:
    with pytest.raises(ValueError, match="numeric ID"):
        client.past_webinar_instances("Bznyg8KZTdCVbQxvS/oZ7w==")
    assert fake.calls() == 0
