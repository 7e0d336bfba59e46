"""The inbox repository on SQLite and PostgreSQL: dedupe, claiming, failing, sweeping."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from service.storage import db, migrate
from service.storage.heartbeat import Heartbeat
from service.storage.inbox import Inbox, NewEvent, Recorded
from service.storage.lease import LeaseLost
from service.storage.models import webhook_events
from service.storage.types import utcnow


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
    claimed = inbox.claim([recorded.id], "w1")
    assert len(claimed) == 1 and claimed[0].attempts == 1
    assert inbox.claim([recorded.id], "w2") == []
    with inbox.engine.begin() as conn:
        inbox.finish(conn, recorded.id, "w1", "done")
    assert inbox.claim([recorded.id], "w2") == []
    stored = row(inbox, recorded.id)
    assert stored["status"] == "done" and stored["processed_at"] is not None
    assert stored["lease_owner"] is None and stored["lease_until"] is None


def test_a_claim_takes_a_batch_in_one_statement(inbox: Inbox) -> None:
    ids = [inbox.record(new(f"k{i}")).id for i in range(5)]
    inbox.claim(ids[:2], "first")
    claimed = inbox.claim(ids, "second")
    assert [c.id for c in claimed] == ids[2:]
    assert {row(inbox, i)["lease_owner"] for i in ids[2:]} == {"second"}


def expire(inbox: Inbox, row_id: int) -> None:
    with inbox.engine.begin() as conn:
        conn.execute(
            update(webhook_events)
            .where(webhook_events.c.id == row_id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )


def test_a_claim_whose_lease_ran_out_can_be_taken(inbox: Inbox) -> None:
    recorded = inbox.record(new("k1"))
    assert inbox.claim([recorded.id], "dead") != []
    assert inbox.claim([recorded.id], "other") == []  # the lease still holds
    expire(inbox, recorded.id)
    again = inbox.claim([recorded.id], "other")
    assert len(again) == 1 and again[0].attempts == 2


def test_a_lost_lease_rolls_the_attempt_back(inbox: Inbox) -> None:
    """The first worker stalled past its lease; the second finished the row. The first's
    writes, handler's included, must not overwrite that."""
    recorded = inbox.record(new("k1"))
    inbox.claim([recorded.id], "slow")
    expire(inbox, recorded.id)
    inbox.claim([recorded.id], "fast")
    with inbox.engine.begin() as conn:
        inbox.finish(conn, recorded.id, "fast", "done")

    def slow_attempt() -> None:
        with inbox.engine.begin() as conn:
            conn.execute(text("UPDATE webhook_events SET last_error = 'slow was here'"))
            inbox.finish(conn, recorded.id, "slow", "ignored")

    with pytest.raises(LeaseLost):
        slow_attempt()
    with pytest.raises(LeaseLost):
        inbox.fail(recorded.id, "slow", "boom", final=True)
    stored = row(inbox, recorded.id)
    assert stored["status"] == "done" and stored["last_error"] is None


def test_the_heartbeat_renews_held_leases_in_one_update(inbox: Inbox) -> None:
    ids = [inbox.record(new(f"k{i}")).id for i in range(3)]
    inbox.claim(ids[:2], "alive")
    inbox.claim(ids[2:], "gone")
    for i in ids:
        expire(inbox, i)
    beat = Heartbeat(inbox.engine, [inbox.leases])
    with beat.holding(inbox.leases, "alive"):
        assert beat.beat() == 2
    assert beat.beat() == 0  # released when the block ends
    assert [c.id for c in inbox.claim(ids, "next")] == ids[2:]
    assert row(inbox, ids[0])["lease_owner"] == "alive"


def test_fail_returns_the_row_for_a_retry_or_ends_it(inbox: Inbox) -> None:
    recorded = inbox.record(new("k1"))
    inbox.claim([recorded.id], "w")
    inbox.fail(recorded.id, "w", "boom " * 1000, final=False)
    stored = row(inbox, recorded.id)
    assert stored["status"] == "received" and stored["lease_owner"] is None
    assert str(stored["last_error"]).startswith("boom") and len(str(stored["last_error"])) == 2000
    inbox.claim([recorded.id], "w2")
    inbox.fail(recorded.id, "w2", "gone", final=True)
    stored = row(inbox, recorded.id)
    assert stored["status"] == "failed" and stored["last_error"] == "gone"
    assert stored["attempts"] == 2


def test_sweep_takes_stale_rows_and_expired_leases_once(inbox: Inbox) -> None:
    stale_received = inbox.record(new("a")).id
    expired = inbox.record(new("b")).id
    fresh = inbox.record(new("c")).id
    finished = inbox.record(new("d")).id
    held = inbox.record(new("e")).id
    inbox.claim([expired, finished, held], "w")
    expire(inbox, expired)
    with inbox.engine.begin() as conn:
        inbox.finish(conn, finished, "w", "done")
        old = utcnow() - timedelta(hours=1)
        conn.execute(
            update(webhook_events)
            .where(webhook_events.c.id.in_([stale_received, finished, held]))
            .values(updated_at=old)
        )
    cutoff = utcnow() - timedelta(minutes=5)
    taken = inbox.sweep(received_before=cutoff)
    assert taken == [stale_received, expired]
    assert row(inbox, expired)["status"] == "received"
    assert row(inbox, expired)["lease_owner"] is None
    assert row(inbox, fresh)["status"] == "received"
    assert row(inbox, held)["status"] == "processing"  # its lease still holds
    assert inbox.sweep(received_before=cutoff) == []


def test_record_many_is_one_row_per_event(inbox: Inbox) -> None:
    first = inbox.record_many([new("a"), new("b"), new("a")])
    assert [r.duplicate for r in first] == [False, False, True]
    assert first[0].id == first[2].id != first[1].id
    again = inbox.record_many([new("b"), new("c")])
    assert again[0] == Recorded(id=first[1].id, duplicate=True) and not again[1].duplicate
    assert row(inbox, first[0].id)["deliveries"] == 2
    assert row(inbox, first[1].id)["deliveries"] == 2
    big = inbox.record_many([new(f"big{i}") for i in range(300)])  # several statements
    assert len({r.id for r in big}) == 300 and not any(r.duplicate for r in big)


def test_concurrent_sweepers_never_take_a_row_twice(inbox: Inbox) -> None:
    ids = [inbox.record(new(f"k{i}")).id for i in range(60)]
    with inbox.engine.begin() as conn:
        conn.execute(update(webhook_events).values(updated_at=utcnow() - timedelta(hours=1)))
    cutoff = utcnow() - timedelta(minutes=5)
    taken: list[int] = []
    lock = threading.Lock()

    def sweeper() -> None:
        got = inbox.sweep(received_before=cutoff, limit=7)
        while got:
            with lock:
                taken.extend(got)
            got = inbox.sweep(received_before=cutoff, limit=7)

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
    sweeper = threading.Thread(target=lambda: taken.extend(inbox.sweep(received_before=cutoff)))
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
    inbox.claim([a], "w")
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
    assert inbox.sweep(received_before=cutoff) == [row_id]
