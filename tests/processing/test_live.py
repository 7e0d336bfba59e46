"""Live events: instances, the participant timeline and registrants, tolerant of redelivery and
of the out-of-order arrivals Zoom really produces (real-captures/: `left` after `ended`)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select

from service.processing.live import FOLLOWUP_RESOURCES
from service.runtime import Runtime
from service.storage.models import (
    followups,
    instances,
    participant_events,
    registrants,
    webhook_events,
)
from tests.conftest import MakeRuntime
from tests.support import WEBHOOKS, compact, event_body, real_captures, signed_headers

CAPTURES = {p.name.split(".", 1)[1].removesuffix(".json"): compact(p) for p in real_captures()}
#: The order Zoom delivered them in 2022: the participant's `left` came after `ended`.
ARRIVAL = [
    "meeting.started",
    "meeting.participant_joined",
    "meeting.ended",
    "meeting.participant_left",
]


@pytest.fixture
def runtime(make_runtime: MakeRuntime, database_url: str) -> Runtime:
    return make_runtime(database_url=database_url, followup_delay_seconds=3600)


def deliver(runtime: Runtime, body: bytes) -> None:
    accepted = runtime.ingestor.ingest(body, signed_headers(body))
    runtime.processor.process(accepted.inbox_id)  # type: ignore[union-attr]


def table(runtime: Runtime, t: Table, *skip: str) -> list[dict[str, Any]]:
    skipped = {"inbox_id", "created_at", "updated_at", *skip}
    columns = [c for c in t.columns if not c.primary_key and c.name not in skipped]
    with runtime.engine.connect() as conn:
        found = conn.execute(select(*columns)).all()
    return sorted((dict(r._mapping) for r in found), key=repr)


def state(runtime: Runtime) -> dict[str, list[dict[str, Any]]]:
    return {
        "instances": table(runtime, instances),
        "timeline": table(runtime, participant_events),
        "followups": table(runtime, followups, "next_attempt_at"),
    }


def test_the_real_2022_sequence(runtime: Runtime) -> None:
    for name in ARRIVAL:
        deliver(runtime, CAPTURES[name])
    (instance,) = table(runtime, instances)
    assert instance["uuid"] == "hwkAADUySwyG3GyUkqc0vA=="
    assert instance["zoom_id"] == 86431910364
    assert instance["kind"] == "meeting"
    assert instance["topic"] == "Zoë Exämple's Zoom Meeting"
    assert instance["start_time"] == datetime(2022, 3, 23, 12, 33, 26, tzinfo=UTC)
    assert instance["end_time"] == datetime(2022, 3, 23, 12, 33, 39, tzinfo=UTC)
    assert instance["timezone"] is None  # Zoom sends "" for instant meetings
    timeline = table(runtime, participant_events)
    assert [(e["action"], e["at"], e["user_name"]) for e in timeline] == [
        ("joined", datetime(2022, 3, 23, 12, 33, 26, tzinfo=UTC), "Zoë Exämple"),
        ("left", datetime(2022, 3, 23, 12, 33, 39, tzinfo=UTC), "Zoë Exämple"),
    ]
    assert "Host ended the meeting" in timeline[1]["leave_reason"]
    assert {f["resource"] for f in table(runtime, followups)} == set(FOLLOWUP_RESOURCES["meeting"])


def test_every_order_and_every_redelivery_gives_the_same_tables(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    reference = make_runtime(followup_delay_seconds=3600)
    for name in ARRIVAL:
        deliver(reference, CAPTURES[name])
    expected = state(reference)
    for i, order in enumerate(itertools.permutations(ARRIVAL)):
        url = f"sqlite:///{tmp_path / f'order{i}.sqlite3'}"
        other = make_runtime(followup_delay_seconds=3600, database_url=url)
        for name in [*order, *order]:  # each one twice: Zoom redelivers
            deliver(other, CAPTURES[name])
        assert state(other) == expected, order


def test_a_batch_in_any_order_gives_the_tables_one_by_one_does(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    """A batch's handlers write each table together (service.processing.writes)."""
    reference = make_runtime(followup_delay_seconds=3600)
    for name in ARRIVAL:
        deliver(reference, CAPTURES[name])
    expected = state(reference)
    for i, order in enumerate(itertools.permutations(ARRIVAL)):
        url = f"sqlite:///{tmp_path / f'batch{i}.sqlite3'}"
        other = make_runtime(followup_delay_seconds=3600, database_url=url)
        ids = [
            other.ingestor.ingest(body, signed_headers(body)).inbox_id  # type: ignore[union-attr]
            for body in (CAPTURES[name] for name in order)
        ]
        processed = other.processor.process_batch(ids)
        assert {r.value for r in processed.results.values()} == {"done"}, order
        assert state(other) == expected, order


def test_a_rejoin_before_a_late_left_keeps_both_stints(runtime: Runtime) -> None:
    base = {"id": "86431910364", "uuid": "m==", "type": 2}

    def person(**fields: Any) -> dict[str, Any]:
        return {**base, "participant": {"user_id": "1", "user_name": "Ana", "id": "A", **fields}}

    joined1 = event_body(
        "meeting.participant_joined", person(join_time="2024-01-01T10:00:00Z"), event_ts=1000
    )
    left1 = event_body(
        "meeting.participant_left", person(leave_time="2024-01-01T10:05:00Z"), event_ts=2000
    )
    joined2 = event_body(
        "meeting.participant_joined", person(join_time="2024-01-01T10:06:00Z"), event_ts=3000
    )
    for body in (joined1, joined2, left1):  # the first `left` arrives after the rejoin
        deliver(runtime, body)
    timeline = sorted(table(runtime, participant_events), key=lambda e: e["event_ts"])
    assert [(e["action"], e["at"].minute) for e in timeline] == [
        ("joined", 0),
        ("left", 5),
        ("joined", 6),
    ]


def registration(event: str, ts: int, **registrant: Any) -> bytes:
    data = json.loads((WEBHOOKS / "webinar.registration_created.json").read_text())
    data["event"] = event
    data["event_ts"] = ts
    data["payload"]["object"]["registrant"].update(registrant)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def test_registrants_follow_the_newest_event_whatever_the_arrival_order(runtime: Runtime) -> None:
    created = registration("webinar.registration_created", 100, status="pending")
    approved = registration("webinar.registration_approved", 200)
    cancelled = registration("webinar.registration_cancelled", 300)
    for body in (created, cancelled, approved, created):
        deliver(runtime, body)
    (row,) = table(runtime, registrants)
    assert row["status"] == "cancelled"
    assert row["webinar_id"] == 1234567890
    assert row["id"] == "iFxeBPYun6SAiWUzBcEkX"
    assert row["email"] == "jchill@example.com"
    assert row["event_ts"] == 300


def test_events_without_the_fields_we_need_are_kept_and_ignored(runtime: Runtime) -> None:
    for body in (
        event_body("meeting.started", {"id": "1"}, event_ts=1),
        event_body("meeting.participant_joined", {"uuid": "u=="}, event_ts=2),
        event_body("webinar.registration_created", {"id": 5}, event_ts=3),
    ):
        deliver(runtime, body)
    assert runtime.inbox.counts() == {"ignored": 3}
    assert state(runtime) == {"instances": [], "timeline": [], "followups": []}


@pytest.mark.parametrize("path", sorted(WEBHOOKS.glob("*.json")), ids=lambda p: p.stem)
def test_every_fixture_event_is_processed(runtime: Runtime, path: Path) -> None:
    body = compact(path)
    if json.loads(body)["event"] == "endpoint.url_validation":
        return
    deliver(runtime, body)
    counts = runtime.inbox.counts()
    assert sum(counts.values()) == 1
    assert set(counts) <= {"done", "ignored"}


def test_the_bundled_meeting_and_webinar_samples_are_two_instances(runtime: Runtime) -> None:
    """`zoomhooks send webinar.ended` then `send meeting.ended`: both make their instance."""
    from service.devtools.send import EVENTS

    for name in ("webinar.ended", "meeting.ended"):
        deliver(runtime, compact(EVENTS / f"{name}.json"))
    assert {row["kind"] for row in table(runtime, instances)} == {"meeting", "webinar"}


def test_a_meeting_with_a_webinars_uuid_fails_clearly_and_merges_nothing(
    runtime: Runtime,
) -> None:
    obj = {"id": "81234567890", "uuid": "same==", "topic": "The webinar", "type": 5}
    deliver(runtime, event_body("webinar.started", obj, event_ts=1))
    clash = {**obj, "id": "86431910364", "topic": "A meeting", "type": 2}
    deliver(runtime, event_body("meeting.started", clash, event_ts=2))
    (stored,) = table(runtime, instances)
    assert (stored["kind"], stored["topic"]) == ("webinar", "The webinar")
    with runtime.engine.connect() as conn:
        failed = conn.execute(
            select(
                webhook_events.c.status, webhook_events.c.attempts, webhook_events.c.last_error
            ).where(webhook_events.c.event == "meeting.started")
        ).one()
    assert failed.status == "failed" and failed.attempts == 1  # not retried: it would clash again
    assert "stored as a webinar" in failed.last_error and "same==" in failed.last_error
