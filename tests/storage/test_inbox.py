"""The inbox repository on SQLite and PostgreSQL: dedupe, claiming, failing, sweeping."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from service.storage import db, migrate
from service.storage.inbox import Inbox, NewEvent
from service.storage.models import webhook_events
from service.storage.types import utcnow

TIMEOUT = timedelta(minutes=5)


@pytest.fixture
def inbox(database_url: str) -> Inbox:
    engine = db.create(database_url)
    migrate.upgrade(engine)
    return Inbox(engine)


def new(key: str, body: str = '{"event":"x","payload":{}}') -> NewEvent:
    return NewEvent(
        event="meeting.started",
        event_ts=1,
        account_id="acct",
        dedupe_key=key,
        body=body,
        request_timestamp=1700000000,
        zm_trackingid="track-1",
        zm_request_id="req-1",
    )


def row(inbox: Inbox, row_id: int) -> dict[str, object]:
    with inbox.engine.connect() as conn:
        found = conn.execute(select(webhook_events).where(webhook_events.c.id == row_id)).one()
    return dict(found._mapping)


def test_record_stores_every_field_and_the_body_verbatim(inbox: Inbox) -> None:
    body = '{"payload":{"name":"Zoë Exämple 测试 🎥"},"event":"x"}'
    recorded = inbox.record(new("k1", body))
    assert not recorded.duplicate
    stored = row(inbox, recorded.id)
    assert stored["body"] == body
    assert stored["status"] == "received"
    assert stored["attempts"] == 0
    assert stored["deliveries"] == 1
    assert stored["zm_trackingid"] == "track-1"
    assert stored["zm_request_id"] == "req-1"
    assert stored["request_timestamp"] == 1700000000
    received_at = stored["received_at"]
    assert received_at is not None and received_at.tzinfo is not None  # type: ignore[attr-defined]


def test_a_redelivery_is_one_row_counted_twice(inbox: Inbox) -> None:
    first = inbox.record(new("k1"))
    second = inbox.record(new("k1"))
    assert second.duplicate and second.id == first.id
    assert row(inbox, first.id)["deliveries"] == 2
    assert inbox.counts() == {"received": 1}


def test_concurrent_deliveries_of_one_event_make_one_row(inbox: Inbox) -> None:
    results: list[bool] = []
    lock = threading.Lock()

    def deliver() -> None:
        recorded = inbox.record(new("same"))
        with lock:
            results.append(recorded.duplicate)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] + [True] * 7
    assert inbox.counts() == {"received": 1}


def test_claim_is_won_once(inbox: Inbox) -> None:
    recorded = inbox.record(new("k1"))
    claimed = inbox.claim(recorded.id, processing_timeout=TIMEOUT)
    assert claimed is not None and claimed.attempts == 1
    assert inbox.claim(recorded.id, processing_timeout=TIMEOUT) is None
    with inbox.engine.begin() as conn:
        inbox.finish(conn, recorded.id, "done")
    assert inbox.claim(recorded.id, processing_timeout=TIMEOUT) is None
    stored = row(inbox, recorded.id)
    assert stored["status"] == "done" and stored["processed_at"] is not None


def test_an_orphaned_claim_can_be_taken_after_the_timeout(inbox: Inbox) -> None:
    recorded = inbox.record(new("k1"))
    assert inbox.claim(recorded.id, processing_timeout=TIMEOUT) is not None
    with inbox.engine.begin() as conn:
        conn.execute(
            update(webhook_events).values(updated_at=utcnow() - TIMEOUT - timedelta(seconds=1))
        )
    again = inbox.claim(recorded.id, processing_timeout=TIMEOUT)
    assert again is not None and again.attempts == 2


def test_fail_returns_the_row_for_a_retry_or_ends_it(inbox: Inbox) -> None:
    recorded = inbox.record(new("k1"))
    inbox.claim(recorded.id, processing_timeout=TIMEOUT)
    inbox.fail(recorded.id, "boom " * 1000, final=False)
    stored = row(inbox, recorded.id)
    assert stored["status"] == "received"
    assert str(stored["last_error"]).startswith("boom") and len(str(stored["last_error"])) == 2000
    inbox.claim(recorded.id, processing_timeout=TIMEOUT)
    inbox.fail(recorded.id, "gone", final=True)
    stored = row(inbox, recorded.id)
    assert stored["status"] == "failed" and stored["last_error"] == "gone"
    assert stored["attempts"] == 2


def test_sweep_takes_only_stale_unfinished_rows_once(inbox: Inbox) -> None:
    stale_received = inbox.record(new("a")).id
    stale_processing = inbox.record(new("b")).id
    fresh = inbox.record(new("c")).id
    finished = inbox.record(new("d")).id
    inbox.claim(stale_processing, processing_timeout=TIMEOUT)
    inbox.claim(finished, processing_timeout=TIMEOUT)
    with inbox.engine.begin() as conn:
        inbox.finish(conn, finished, "done")
        old = utcnow() - timedelta(hours=1)
        conn.execute(
            update(webhook_events)
            .where(webhook_events.c.id.in_([stale_received, stale_processing, finished]))
            .values(updated_at=old)
        )
    cutoff = utcnow() - timedelta(minutes=5)
    taken = inbox.sweep(received_before=cutoff, processing_before=cutoff)
    assert taken == [stale_received, stale_processing]
    assert row(inbox, stale_processing)["status"] == "received"
    assert row(inbox, fresh)["status"] == "received"
    assert inbox.sweep(received_before=cutoff, processing_before=cutoff) == []


def test_concurrent_sweepers_never_take_a_row_twice(inbox: Inbox) -> None:
    ids = [inbox.record(new(f"k{i}")).id for i in range(60)]
    with inbox.engine.begin() as conn:
        conn.execute(update(webhook_events).values(updated_at=utcnow() - timedelta(hours=1)))
    cutoff = utcnow() - timedelta(minutes=5)
    taken: list[int] = []
    lock = threading.Lock()

    def sweeper() -> None:
        got = inbox.sweep(received_before=cutoff, processing_before=cutoff, limit=7)
        while got:
            with lock:
                taken.extend(got)
            got = inbox.sweep(received_before=cutoff, processing_before=cutoff, limit=7)

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == ids


@pytest.mark.postgres
def test_a_sweeper_passes_over_rows_another_is_taking(postgres_url: str) -> None:
    """SKIP LOCKED: a second sweeper takes the rows nobody holds, without queueing behind the
    sweeper (or worker) that holds the others."""
    engine = db.create(postgres_url)
    migrate.upgrade(engine)
    inbox = Inbox(engine)
    ids = [inbox.record(new(f"s{i}")).id for i in range(4)]
    with engine.begin() as conn:
        conn.execute(update(webhook_events).values(updated_at=utcnow() - timedelta(hours=1)))
    cutoff = utcnow() - timedelta(minutes=5)
    held = engine.connect()
    transaction = held.begin()
    held.execute(
        select(webhook_events.c.id).where(webhook_events.c.id.in_(ids[:2])).with_for_update()
    )
    taken: list[int] = []
    sweeper = threading.Thread(
        target=lambda: taken.extend(inbox.sweep(received_before=cutoff, processing_before=cutoff))
    )
    sweeper.start()
    sweeper.join(10)
    try:
        assert not sweeper.is_alive(), "the sweeper waited for the locked rows"
        assert taken == ids[2:]
    finally:
        transaction.rollback()
        held.close()
        sweeper.join(10)
        engine.dispose()


def test_release_orphans_hands_processing_rows_back(inbox: Inbox) -> None:
    a = inbox.record(new("a")).id
    inbox.record(new("b"))
    inbox.claim(a, processing_timeout=TIMEOUT)
    assert inbox.release_orphans() == 1
    assert inbox.counts() == {"received": 2}


def test_status_is_constrained(inbox: Inbox) -> None:
    recorded = inbox.record(new("a"))
    with pytest.raises(Exception, match=r"(?i)check|constraint"), inbox.engine.begin() as conn:
        conn.execute(
            update(webhook_events).where(webhook_events.c.id == recorded.id).values(status="bogus")
        )


def test_a_row_an_operator_made_stale_by_hand_is_swept(inbox: Inbox) -> None:
    row_id = inbox.record(new("k")).id
    with inbox.engine.begin() as conn:  # the runbook's manual re-run, typed as plain SQL
        conn.execute(
            text("UPDATE webhook_events SET updated_at = '2000-01-01' WHERE id = :id"),
            {"id": row_id},
        )
    cutoff = utcnow() - timedelta(minutes=5)
    assert inbox.sweep(received_before=cutoff, processing_before=cutoff) == [row_id]
