"""Follow-ups end to end: a signed `*.ended` in, real workers, real HTTP to the fake Zoom,
tables compared with the fake's ground truth; then every branch of Zoom's error taxonomy."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, select, update

from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FaultKind,
    Instance,
    RunningFake,
)
from service.governor import MemoryStateStore
from service.processing.followup import FollowupRunner, Later
from service.processing.live import FOLLOWUP_RESOURCES
from service.runtime import Runtime
from service.storage.models import (
    absentees,
    followups,
    instances,
    participants,
    poll_answers,
    qa_entries,
)
from service.zoom import RetryPolicy, ZoomClient
from tests.conftest import MakeRuntime
from tests.support import event_body, signed_headers, wait_until

WEBINAR_ID = 81234567890
MEETING_ID = 86431910364


def t(value: str) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def ended(kind: str, inst: Instance) -> bytes:
    obj = {
        "id": str(inst.id),
        "uuid": inst.uuid,
        "host_id": "h1",
        "topic": "Tøpic",
        "type": 5,
        "start_time": "2024-03-01T14:00:00Z",
        "end_time": "2024-03-01T15:00:00Z",
        "duration": 60,
    }
    return event_body(f"{kind}.ended", obj, event_ts=1_709_305_200_000)


def ingest(runtime: Runtime, body: bytes) -> int:
    accepted = runtime.ingestor.ingest(body, signed_headers(body))
    return accepted.inbox_id  # type: ignore[union-attr]


def rows(runtime: Runtime, table: Table, *columns: str) -> list[tuple[Any, ...]]:
    with runtime.engine.connect() as conn:
        found = conn.execute(select(*(table.c[c] for c in columns))).all()
    return sorted((tuple(r) for r in found), key=repr)


def jobs(runtime: Runtime) -> dict[str, tuple[str, int | None, str | None]]:
    with runtime.engine.connect() as conn:
        found = conn.execute(
            select(
                followups.c.resource,
                followups.c.status,
                followups.c.rows_stored,
                followups.c.last_error,
            )
        ).all()
    return {r.resource: (r.status, r.rows_stored, r.last_error) for r in found}


def all_done(runtime: Runtime, count: int) -> bool:
    """Exactly `count` jobs, all done, in one read (two reads race the jobs' creation)."""
    found = [status for status, _, _ in jobs(runtime).values()]
    return len(found) == count and all(status == "done" for status in found)


def expected_participants(inst: Instance) -> list[tuple[Any, ...]]:
    return sorted(
        (
            (
                p["id"],
                p["user_id"],
                p["name"],
                p["user_email"],
                t(p["join_time"]),
                t(p["leave_time"]),
                p["duration"],
            )
            for p in inst.iter_participants()
        ),
        key=repr,
    )


def stored_participants(runtime: Runtime) -> list[tuple[Any, ...]]:
    return rows(
        runtime,
        participants,
        "id",
        "user_id",
        "name",
        "user_email",
        "join_time",
        "leave_time",
        "duration",
    )


def expected_questions(records: list[dict[str, Any]], *fields: str) -> list[tuple[Any, ...]]:
    return sorted(
        (
            (r["name"], r["email"], *(t(d[f]) if f == "date_time" else d[f] for f in fields))
            for r in records
            for d in r["question_details"]
        ),
        key=repr,
    )


def snapshot(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    tables = (instances, participants, absentees, qa_entries, poll_answers)
    result: dict[str, list[tuple[Any, ...]]] = {}
    for table in tables:
        columns = [c.name for c in table.columns if c.name not in ("updated_at",)]
        result[table.name] = rows(runtime, table, *columns)
    return result


@pytest.fixture
def runtime(make_runtime: MakeRuntime, zoom_settings: dict[str, Any], database_url: str) -> Runtime:
    return make_runtime(database_url=database_url, **zoom_settings)


def test_webinar_ended_fills_every_table_exactly(runtime: Runtime, fake_zoom: RunningFake) -> None:
    inst = fake_zoom.fake.world.add_webinar(
        WEBINAR_ID, participants=650, absentees=310, questions=7, polls=3, seed=4
    )
    runtime.start_workers()
    ingest(runtime, ended("webinar", inst))
    wait_until(
        lambda: all_done(runtime, len(FOLLOWUP_RESOURCES["webinar"])),
        timeout=30,
    )
    assert stored_participants(runtime) == expected_participants(inst)
    assert rows(runtime, absentees, "id", "email", "first_name") == sorted(
        ((a["id"], a["email"], a["first_name"]) for a in inst.iter_absentees()), key=repr
    )
    assert rows(runtime, qa_entries, "name", "email", "question", "answer") == expected_questions(
        inst.qa(), "question", "answer"
    )
    assert rows(
        runtime, poll_answers, "name", "email", "polling_id", "question", "answer", "date_time"
    ) == expected_questions(inst.poll_results(), "polling_id", "question", "answer", "date_time")
    assert jobs(runtime)["participants"][1] == 650
    assert jobs(runtime)["absentees"][1] == 310
    (instance,) = rows(runtime, instances, "uuid", "zoom_id", "kind", "topic", "end_time")
    assert instance == (
        inst.uuid,
        WEBINAR_ID,
        "webinar",
        "Tøpic",
        datetime(2024, 3, 1, 15, tzinfo=UTC),
    )
    # Minimum calls: ceil(650/300) + ceil(310/300) pages, one each for Q&A and polls.
    assert fake_zoom.fake.calls("listWebinarParticipants") == 3
    assert fake_zoom.fake.calls("webinarAbsentees") == 2
    assert fake_zoom.fake.tokens_issued == 1
    # Every fetched row traces back to its event and job.
    with runtime.engine.connect() as conn:
        traces = conn.execute(select(participants.c.inbox_id, participants.c.followup_id)).all()
    assert {tuple(tr) for tr in traces} == {(1, jobs_id(runtime, "participants"))}


def jobs_id(runtime: Runtime, resource: str) -> int:
    with runtime.engine.connect() as conn:
        return int(
            conn.execute(
                select(followups.c.id).where(followups.c.resource == resource)
            ).scalar_one()
        )


def test_redeliveries_and_reruns_leave_the_tables_unchanged(
    runtime: Runtime, fake_zoom: RunningFake
) -> None:
    inst = fake_zoom.fake.world.add_webinar(
        WEBINAR_ID, participants=320, absentees=5, questions=3, polls=2, seed=2
    )
    runtime.start_workers()
    body = ended("webinar", inst)
    ingest(runtime, body)
    done = ["done"] * len(FOLLOWUP_RESOURCES["webinar"])
    wait_until(lambda: [s for s, _, _ in jobs(runtime).values()] == done, timeout=30)
    before = snapshot(runtime)
    ingest(runtime, body)  # Zoom redelivers
    with runtime.engine.begin() as conn:  # and every job runs again
        conn.execute(update(followups).values(status="pending", next_attempt_at=None))
    for resource in FOLLOWUP_RESOURCES["webinar"]:
        runtime.schedule_followup(jobs_id(runtime, resource), datetime.now(UTC))
    wait_until(lambda: fake_zoom.fake.calls("listWebinarParticipants") == 4, timeout=30)
    wait_until(lambda: [s for s, _, _ in jobs(runtime).values()] == done, timeout=30)
    assert snapshot(runtime) == before


def test_meeting_ended_fetches_participants_qa_and_polls(
    runtime: Runtime, fake_zoom: RunningFake
) -> None:
    inst = fake_zoom.fake.world.add_meeting(
        MEETING_ID, participants=45, questions=0, polls=1, seed=9
    )
    runtime.start_workers()
    ingest(runtime, ended("meeting", inst))
    wait_until(
        lambda: all_done(runtime, len(FOLLOWUP_RESOURCES["meeting"])),
        timeout=30,
    )
    assert stored_participants(runtime) == expected_participants(inst)
    assert jobs(runtime)["qa"] == ("done", 0, None)  # an empty Q&A is a result, not a failure
    assert rows(runtime, qa_entries, "question") == []


@pytest.mark.parametrize(
    ("count", "pages"), [(0, 1), (300, 1), (301, 2), (1500, 5)], ids=["empty", "one", "two", "many"]
)
def test_pagination_to_the_last_page(
    make_runtime: MakeRuntime,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
    count: int,
    pages: int,
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_meeting(MEETING_ID, participants=count, seed=count)
    job = created_job(runtime, "meeting", inst, "participants")
    assert runtime.runner.run(job) is None
    assert stored_participants(runtime) == expected_participants(inst)
    assert fake_zoom.fake.calls("pastMeetingParticipants") == pages


def make_due(runtime: Runtime, job: int) -> None:
    """As if the job's wait had passed."""
    with runtime.engine.begin() as conn:
        conn.execute(
            update(followups).where(followups.c.id == job).values(next_attempt_at=datetime.now(UTC))
        )


def created_job(runtime: Runtime, kind: str, inst: Instance, resource: str) -> int:
    """Process the `ended` event synchronously; return the id of one of the jobs it created."""
    inbox_id = ingest(runtime, ended(kind, inst))
    runtime.processor.process(inbox_id)
    return jobs_id(runtime, resource)


def test_an_expired_page_token_restarts_the_listing(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=1000, seed=3)
    fake_zoom.fake.faults.page_token_expired("/v2/past_webinars/*/participants", count=1, skip=1)
    job = created_job(runtime, "webinar", inst, "participants")
    assert runtime.runner.run(job) is None
    assert stored_participants(runtime) == expected_participants(inst)
    assert jobs(runtime)["participants"][:2] == ("done", 1000)


@pytest.mark.parametrize("uuid", ["/abc//def==", "ab//cd==", "plain+uuid/x=="])
def test_uuids_that_need_double_encoding(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake, uuid: str
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, uuid=uuid, participants=5, questions=2)
    for resource in ("participants", "qa"):
        job = (
            created_job(runtime, "webinar", inst, resource)
            if resource == "participants"
            else jobs_id(runtime, resource)
        )
        assert runtime.runner.run(job) is None
    assert jobs(runtime)["participants"][:2] == ("done", 5)
    assert jobs(runtime)["qa"][0] == "done"


def test_not_ready_is_fetched_again_later(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=10)
    fake_zoom.fake.faults.not_ready("/v2/past_webinars/*/participants", count=2)
    job = created_job(runtime, "webinar", inst, "participants")
    first = runtime.runner.run(job)
    assert isinstance(first, Later)
    assert jobs(runtime)["participants"][0] == "pending"
    assert runtime.runner.run(job) is None  # not due yet: nothing happens
    wait_until(lambda: datetime.now(UTC) > first.at)
    second = runtime.runner.run(job)
    assert isinstance(second, Later)
    assert second.at - datetime.now(UTC) > first.at - datetime.now(UTC) - timedelta(seconds=1)
    wait_until(lambda: datetime.now(UTC) > second.at)
    assert runtime.runner.run(job) is None
    assert jobs(runtime)["participants"][:2] == ("done", 10)


def test_not_ready_past_the_limit_fails_with_the_reason(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings, not_ready_limit_seconds=0)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=10)
    fake_zoom.fake.faults.not_ready("/v2/past_webinars/*/participants", count=None)
    job = created_job(runtime, "webinar", inst, "participants")
    assert runtime.runner.run(job) is None
    status, _, error = jobs(runtime)["participants"]
    assert status == "failed"
    assert "no data after" in str(error)


@pytest.mark.parametrize("code", [4711, 4700, 3000, 3003])
def test_permission_errors_fail_at_once_naming_the_fix(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake, code: int
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=10)
    fake_zoom.fake.faults.permission("/v2/past_webinars/*/participants", count=None, code=code)
    job = created_job(runtime, "webinar", inst, "participants")
    assert runtime.runner.run(job) is None
    status, _, error = jobs(runtime)["participants"]
    assert status == "failed"
    assert any(word in str(error).lower() for word in ("scope", "role", "permission", "host"))
    assert fake_zoom.fake.calls("listWebinarParticipants") == 1  # no retry


def test_absentees_of_a_webinar_without_registration_are_not_applicable(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=3, registration=False)
    job = created_job(runtime, "webinar", inst, "absentees")
    assert runtime.runner.run(job) is None
    assert jobs(runtime)["absentees"][0] == "not_applicable"


def test_data_older_than_zoom_keeps_fails_without_retry(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=3, too_old=True)
    job = created_job(runtime, "webinar", inst, "participants")
    assert runtime.runner.run(job) is None
    status, _, error = jobs(runtime)["participants"]
    assert status == "failed"
    assert "12702" in str(error)


def test_429_waits_without_spending_an_attempt(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=10)
    # Longer than a worker waits in place: the job goes back to wait as a delayed message.
    fake_zoom.fake.faults.rate_limit("/v2/past_webinars/*/participants", count=1, retry_after="12")
    job = created_job(runtime, "webinar", inst, "participants")
    started = datetime.now(UTC)
    later = runtime.runner.run(job)
    assert isinstance(later, Later)
    assert later.at > datetime.now(UTC)
    with runtime.engine.connect() as conn:
        attempts = conn.execute(select(followups.c.attempts).where(followups.c.id == job)).scalar()
    assert attempts == 0
    assert later.at >= started + timedelta(seconds=12)
    # Made due at once (as a backfill would): the governor holds every call of the account
    # until Retry-After, so the job waits again, still without spending an attempt.
    make_due(runtime, job)
    again = runtime.runner.run(job)
    assert isinstance(again, Later) and again.at >= started + timedelta(seconds=11)
    assert "governor" in str(jobs(runtime)["participants"][2])
    # As if the 12 s had passed: the job is due, and the pace forgotten.
    make_due(runtime, job)
    runtime.governor.store = MemoryStateStore()
    assert runtime.runner.run(job) is None
    assert jobs(runtime)["participants"][:2] == ("done", 10)


def test_a_short_429_mid_listing_is_waited_out_without_starting_over(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=700)
    fake_zoom.fake.faults.rate_limit(
        "/v2/past_webinars/*/participants", count=2, skip=1, retry_after="1"
    )
    job = created_job(runtime, "webinar", inst, "participants")
    assert runtime.runner.run(job) is None
    assert stored_participants(runtime) == expected_participants(inst)
    # Three pages, and the two 429s: no page fetched twice.
    assert fake_zoom.fake.calls("listWebinarParticipants") == 3 + 2


def test_5xx_and_token_expiry_are_absorbed(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=700)
    fake_zoom.fake.faults.server_error("/v2/past_webinars/*/participants", count=2, status=503)
    fake_zoom.fake.faults.token_invalid("/v2/past_webinars/*/participants", count=1, skip=1)
    job = created_job(runtime, "webinar", inst, "participants")
    assert runtime.runner.run(job) is None
    assert stored_participants(runtime) == expected_participants(inst)
    assert fake_zoom.fake.tokens_issued == 2


def test_without_credentials_followups_fail_with_what_to_set(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(followup_delay_seconds=0)
    inbox_id = ingest(runtime, event_body("webinar.ended", {"id": "1", "uuid": "u=="}, event_ts=1))
    runtime.processor.process(inbox_id)
    assert runtime.runner.run(jobs_id(runtime, "participants")) is None
    status, _, error = jobs(runtime)["participants"]
    assert status == "failed"
    assert "ZOOM_CLIENT_SECRET" in str(error)


def test_a_daily_limit_parks_the_job_until_after_midnight_utc(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=10)
    fake_zoom.fake.faults.rate_limit(
        "/v2/past_webinars/*/participants", count=1, rate_limit_type="Daily-limit"
    )
    job = created_job(runtime, "webinar", inst, "participants")
    later = runtime.runner.run(job)
    assert isinstance(later, Later)
    midnight = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    assert midnight <= later.at <= midnight + timedelta(minutes=5)
    assert jobs(runtime)["participants"][0] == "pending"


def runner_without_client_retries(runtime: Runtime, fake_zoom: RunningFake) -> FollowupRunner:
    client = ZoomClient(
        account_id=DEFAULT_ACCOUNT_ID,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        api_base_url=fake_zoom.api_url,
        oauth_url=fake_zoom.oauth_url,
        retry=RetryPolicy(max_retries=0),
    )
    return FollowupRunner(
        runtime.followups,
        lambda _account, _app: client,
        not_ready_retry=timedelta(0),
        not_ready_limit=timedelta(hours=1),
        max_attempts=2,
    )


def test_transient_failures_are_retried_then_fail_after_the_attempt_budget(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    runner = runner_without_client_retries(runtime, fake_zoom)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=10)
    fake_zoom.fake.faults.server_error("/v2/past_webinars/*/participants", count=None, status=502)
    job = created_job(runtime, "webinar", inst, "participants")
    first = runner.run(job)
    assert isinstance(first, Later)
    assert jobs(runtime)["participants"][0] == "pending"
    with runtime.engine.begin() as conn:  # as if the backoff had passed
        conn.execute(update(followups).values(next_attempt_at=datetime.now(UTC)))
    assert runner.run(job) is None
    status, _, error = jobs(runtime)["participants"]
    assert status == "failed"
    assert "gave up after 2 attempts" in str(error)


def test_an_error_zoom_does_not_explain_fails_at_once(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=10)
    fake_zoom.fake.faults.add(
        kind=FaultKind.ERROR,
        path="/v2/past_webinars/*/participants",
        count=None,
        status=400,
        code=1001,
        message="User does not exist",
    )
    job = created_job(runtime, "webinar", inst, "participants")
    assert runtime.runner.run(job) is None
    status, _, error = jobs(runtime)["participants"]
    assert status == "failed"
    assert "1001" in str(error)


def test_a_long_listing_keeps_its_lease_through_the_process_heartbeat(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    """A 3 s lease and a listing of over 3 s: the heartbeat renews the lease, so a sweeper
    running all along never takes the live job, and it runs once."""
    runtime = make_runtime(**zoom_settings, lease_seconds=3)
    runtime.heartbeat.start()
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=700)
    fake_zoom.fake.faults.slow(1.3, "/v2/past_webinars/*/participants", count=None)
    job = created_job(runtime, "webinar", inst, "participants")
    taken: list[int] = []
    stop = threading.Event()

    def sweep() -> None:
        while not stop.wait(0.2):
            taken.extend(j for j, _ in runtime.followups.sweep(due_before=datetime.now(UTC)))

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    try:
        assert runtime.runner.run(job) is None
    finally:
        stop.set()
        sweeper.join()
    assert job not in taken
    with runtime.engine.connect() as conn:
        found = conn.execute(
            select(followups.c.status, followups.c.attempts).where(followups.c.id == job)
        ).one()
    assert tuple(found) == ("done", 1)
