"""Write-side actions end to end over real HTTP against the fake Zoom, on SQLite and PostgreSQL:
the audit row, idempotence on redelivery, dry runs, and each permission error's fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, update

from service import actions as rules
from service import metrics
from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    RunningFake,
)
from service.processing.actions import ActionRunner
from service.processing.followup import Later
from service.storage import migrate
from service.storage.actions import ActionJobs, NewAction
from service.storage.gauges import DatabaseCollector
from service.storage.models import actions
from service.zoom import RetryPolicy, ZoomAPIError, ZoomClient
from service.zoom.endpoints import UPDATE_WEBINAR_REGISTRANT_STATUS
from tests.conftest import MakeRuntime
from tests.support import event_body, signed_headers, wait_until

SCHEDULE = "meeting.schedule_for"
WEBINAR_ID = 81234567890
MEETING_ID = 86431910364
RULES = rules.Actions(
    registrants=rules.RegistrantRule(("example.com",), ("competitor.example",)),
    meeting_host=rules.MeetingHostRule("events@example.com"),
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = create_engine(database_url)
    migrate.upgrade(made)
    yield made
    made.dispose()


@pytest.fixture
def client(fake_zoom: RunningFake) -> Iterator[ZoomClient]:
    with ZoomClient(
        account_id=DEFAULT_ACCOUNT_ID,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        api_base_url=fake_zoom.api_url,
        oauth_url=fake_zoom.oauth_url,
        retry=RetryPolicy(max_retries=0),
    ) as made:
        yield made


def runner(engine: Engine, client: ZoomClient | None) -> ActionRunner:
    return ActionRunner(ActionJobs(engine), lambda _account, _app: client, max_attempts=2)


def registration(email: str, registrant_id: str = "r1") -> dict[str, Any]:
    registrant = {"id": registrant_id, "email": email, "status": "pending"}
    return {
        "account_id": DEFAULT_ACCOUNT_ID,
        "object": {"id": WEBINAR_ID, "registrant": registrant},
    }


def meeting_created(host: str = "host@example.com") -> dict[str, Any]:
    return {"account_id": DEFAULT_ACCOUNT_ID, "object": {"id": MEETING_ID, "host_email": host}}


def record(
    engine: Engine, event: str, payload: dict[str, Any], *, inbox_id: int = 1, dry_run: bool = False
) -> list[int]:
    planned = [
        NewAction(p.kind, p.target, p.method, p.path, p.body, p.reason)
        for p in rules.plan(RULES, event, payload)
    ]
    with engine.begin() as conn:
        return ActionJobs(engine).create(
            conn,
            planned,
            app="marketing",
            account_id=DEFAULT_ACCOUNT_ID,
            inbox_id=inbox_id,
            dry_run=dry_run,
            requested_by="rule:marketing",
        )


def counted(kind: str, outcome: str) -> float:
    """The process's `zoomhooks_actions_total` for one kind and outcome."""
    value = metrics.REGISTRY.get_sample_value(
        "zoomhooks_actions_total", {"kind": kind, "outcome": outcome}
    )
    return value or 0.0


def audit(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(actions).order_by(actions.c.id))]


def test_a_denied_registrant_is_denied_at_zoom_and_audited(
    engine: Engine, client: ZoomClient, fake_zoom: RunningFake
) -> None:
    (action_id,) = record(engine, rules.REGISTRATION_CREATED, registration("a@competitor.example"))
    done = counted("registrant.deny", "done")
    assert runner(engine, client).run(action_id) is None
    assert counted("registrant.deny", "done") == done + 1
    assert fake_zoom.fake.writes.registrant_status[(WEBINAR_ID, "r1")] == "denied"
    assert fake_zoom.fake.calls("webinarRegistrantStatus", 204) == 1
    (row,) = audit(engine)
    assert row["status"] == "done"
    assert row["kind"] == "registrant.deny"
    assert row["zoom_status"] == 204
    assert row["zm_trackingid"]
    assert row["requested_by"] == "rule:marketing"
    assert "competitor.example is in deny_domains" in row["reason"]
    assert json.loads(row["request"]) == {
        "action": "deny",
        "registrants": [{"email": "a@competitor.example", "id": "r1"}],
    }
    assert row["finished_at"] is not None and row["dry_run"] is False


def test_the_actions_table_is_a_gauge_by_kind_and_status(
    engine: Engine, client: ZoomClient
) -> None:
    (done,) = record(engine, rules.REGISTRATION_CREATED, registration("a@competitor.example"))
    record(engine, rules.MEETING_CREATED, meeting_created())
    runner(engine, client).run(done)
    (family,) = [
        f for f in DatabaseCollector(engine, ttl=0).collect() if f.name == "zoomhooks_actions_jobs"
    ]
    assert {(s.labels["kind"], s.labels["status"]): s.value for s in family.samples} == {
        ("registrant.deny", "done"): 1,
        ("meeting.schedule_for", "pending"): 1,
    }


def test_a_new_meeting_is_moved_to_the_configured_host(
    engine: Engine, client: ZoomClient, fake_zoom: RunningFake
) -> None:
    (action_id,) = record(engine, rules.MEETING_CREATED, meeting_created())
    assert runner(engine, client).run(action_id) is None
    assert fake_zoom.fake.writes.meeting_host[MEETING_ID] == "events@example.com"
    assert audit(engine)[0]["status"] == "done"


def test_a_redelivered_webhook_never_acts_twice(
    engine: Engine, client: ZoomClient, fake_zoom: RunningFake
) -> None:
    (action_id,) = record(engine, rules.REGISTRATION_CREATED, registration("a@example.com"))
    assert record(engine, rules.REGISTRATION_CREATED, registration("a@example.com")) == []
    run = runner(engine, client)
    run.run(action_id)
    run.run(action_id)  # a duplicate message finds the action finished
    assert fake_zoom.fake.calls("webinarRegistrantStatus") == 1
    assert len(audit(engine)) == 1


def test_a_dry_run_makes_no_zoom_call(engine: Engine, fake_zoom: RunningFake) -> None:
    (action_id,) = record(engine, rules.MEETING_CREATED, meeting_created(), dry_run=True)
    assert runner(engine, None).run(action_id) is None
    assert fake_zoom.fake.calls() == 0
    (row,) = audit(engine)
    assert (row["status"], row["dry_run"], row["zoom_status"]) == ("dry_run", True, None)
    assert json.loads(row["request"]) == {"schedule_for": "events@example.com"}


def test_schedule_for_refusal_names_both_users(
    engine: Engine, client: ZoomClient, fake_zoom: RunningFake
) -> None:
    fake_zoom.fake.faults.schedule_for_refused("events@example.com")
    (action_id,) = record(engine, rules.MEETING_CREATED, meeting_created())
    refused, failed = counted(SCHEDULE, "refused"), counted(SCHEDULE, "failed")
    assert runner(engine, client).run(action_id) is None
    # A refusal a person must fix is counted apart from other failures, for its alert.
    assert (counted(SCHEDULE, "refused"), counted(SCHEDULE, "failed")) == (refused + 1, failed)
    (row,) = audit(engine)
    assert (row["status"], row["zoom_status"], row["zoom_code"]) == ("failed", 400, 3000)
    assert row["zoom_message"] == "You cannot schedule a meeting for events@example.com."
    assert (
        "the meeting's host host@example.com lacks the scheduling privilege for "
        "events@example.com" in row["fix"]
    )
    assert "Schedule Privilege" in row["fix"]
    assert MEETING_ID not in fake_zoom.fake.writes.meeting_host


def test_a_missing_scope_names_the_scope_to_grant(
    engine: Engine, client: ZoomClient, fake_zoom: RunningFake
) -> None:
    fake_zoom.fake.faults.permission("/v2/webinars/*", code=4711)
    (action_id,) = record(engine, rules.REGISTRATION_CREATED, registration("a@example.com"))
    runner(engine, client).run(action_id)
    (row,) = audit(engine)
    assert (row["status"], row["zoom_code"]) == ("failed", 4711)
    assert "Grant " in row["fix"] and "Zoom App Marketplace" in row["fix"]
    assert "webinar:write:admin" in row["fix"]


def test_not_the_host_names_the_role_to_grant(
    engine: Engine, client: ZoomClient, fake_zoom: RunningFake
) -> None:
    fake_zoom.fake.faults.permission("/v2/meetings/*", code=3003)
    (action_id,) = record(engine, rules.MEETING_CREATED, meeting_created())
    runner(engine, client).run(action_id)
    (row,) = audit(engine)
    assert (row["status"], row["zoom_code"]) == ("failed", 3003)
    assert "role with Meetings/Webinars 'Edit' for all users" in row["fix"]


def test_429_waits_without_spending_an_attempt_then_acts(
    engine: Engine, client: ZoomClient, fake_zoom: RunningFake
) -> None:
    fake_zoom.fake.faults.rate_limit("/v2/webinars/*", rate_limit_type="Daily-limit")
    (action_id,) = record(engine, rules.REGISTRATION_CREATED, registration("a@example.com"))
    run = runner(engine, client)
    limited = counted("registrant.approve", "rate_limited")
    assert isinstance(run.run(action_id), Later)
    assert counted("registrant.approve", "rate_limited") == limited + 1
    (row,) = audit(engine)
    assert (row["status"], row["attempts"], row["zoom_status"]) == ("pending", 0, 429)
    due_now(engine)
    assert run.run(action_id) is None
    assert audit(engine)[0]["status"] == "done"
    assert fake_zoom.fake.writes.registrant_status[(WEBINAR_ID, "r1")] == "approved"


def test_5xx_is_retried_then_fails_after_the_attempt_budget(
    engine: Engine, client: ZoomClient, fake_zoom: RunningFake
) -> None:
    fake_zoom.fake.faults.server_error("/v2/meetings/*", count=None, status=502)
    (action_id,) = record(engine, rules.MEETING_CREATED, meeting_created())
    run = runner(engine, client)
    retried, failed = counted(SCHEDULE, "retry"), counted(SCHEDULE, "failed")
    assert isinstance(run.run(action_id), Later)
    assert audit(engine)[0]["status"] == "pending"
    due_now(engine)
    assert run.run(action_id) is None
    assert (counted(SCHEDULE, "retry"), counted(SCHEDULE, "failed")) == (retried + 1, failed + 1)
    (row,) = audit(engine)
    assert (row["status"], row["attempts"], row["zoom_status"]) == ("failed", 2, 502)


def test_a_body_outside_the_spec_is_refused_by_the_fake(
    client: ZoomClient, fake_zoom: RunningFake
) -> None:
    with pytest.raises(ZoomAPIError) as caught:
        client.write(UPDATE_WEBINAR_REGISTRANT_STATUS, WEBINAR_ID, "PUT", {"action": "approved"})
    assert (caught.value.status, caught.value.zoom_code) == (400, 300)
    assert fake_zoom.fake.writes.registrant_status == {}


def due_now(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(actions).values(next_attempt_at=datetime.now(UTC)))


APP_CONFIG = f"""
[apps.marketing]
account_id = "{DEFAULT_ACCOUNT_ID}"
secret_tokens = ["mkt-secret"]
client_id = "{DEFAULT_CLIENT_ID}"
client_secret = "{DEFAULT_CLIENT_SECRET}"

[apps.marketing.actions.registrants]
allow_domains = ["example.com"]
otherwise = "deny"

[apps.marketing.actions.meeting_host]
schedule_for = "events@example.com"
"""


@pytest.mark.parametrize("dry_run", [False, True], ids=["live", "dry_run"])
def test_signed_webhooks_trigger_the_configured_actions_end_to_end(
    make_runtime: MakeRuntime,
    fake_zoom: RunningFake,
    database_url: str,
    tmp_path: Path,
    dry_run: bool,
) -> None:
    config = tmp_path / "zoomhooks.toml"
    text = APP_CONFIG
    if dry_run:
        text = text.replace(
            "[apps.marketing.actions.registrants]",
            "[apps.marketing.actions]\ndry_run = true\n\n[apps.marketing.actions.registrants]",
        )
    config.write_text(text)
    runtime = make_runtime(
        database_url=database_url,
        config_file=str(config),
        webhook_secret_token=None,
        zoom_api_base_url=fake_zoom.api_url,
        zoom_oauth_url=fake_zoom.oauth_url,
    )
    runtime.start_workers()
    ingestor = runtime.ingestors["marketing"]
    registrant = {"id": "r9", "email": "x@elsewhere.example", "status": "approved"}
    bodies = [
        event_body(
            rules.REGISTRATION_CREATED,
            {"id": WEBINAR_ID, "registrant": registrant},
            event_ts=1_709_305_200_000,
            account=DEFAULT_ACCOUNT_ID,
        ),
        event_body(
            rules.MEETING_CREATED,
            {"id": MEETING_ID, "host_id": "z8yCxjabcdEFGHfp8uQ"},
            event_ts=1_709_305_200_001,
            account=DEFAULT_ACCOUNT_ID,
        ),
    ]
    for body in bodies:
        for _ in range(2):  # Zoom redelivers
            ingestor.ingest(body, signed_headers(body, secret="mkt-secret"))
    final = "dry_run" if dry_run else "done"
    wait_until(lambda: [r["status"] for r in audit(runtime.engine)] == [final, final], timeout=30)
    rows = audit(runtime.engine)
    assert {r["kind"] for r in rows} == {"registrant.deny", "meeting.schedule_for"}
    assert {r["app"] for r in rows} == {"marketing"}
    assert {r["requested_by"] for r in rows} == {"rule:marketing"}
    if dry_run:
        assert fake_zoom.fake.calls("webinarRegistrantStatus") == 0
        assert fake_zoom.fake.calls("meetingUpdate") == 0
    else:
        assert fake_zoom.fake.writes.registrant_status[(WEBINAR_ID, "r9")] == "denied"
        assert fake_zoom.fake.writes.meeting_host[MEETING_ID] == "events@example.com"
        assert fake_zoom.fake.calls("webinarRegistrantStatus") == 1
        assert fake_zoom.fake.calls("meetingUpdate") == 1
