"""Processing one inbox row: outcomes, idempotency, retries and the attempt budget."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from service.processing.handlers import Context, Handler, Outcome
from service.processing.live import LiveHandlers
from service.processing.process import Processor, Result, RetryLater
from service.storage import db, migrate
from service.storage.followups import Followups
from service.storage.inbox import Inbox, NewEvent
from service.storage.models import webhook_events
from service.webhooks.dedupe import dedupe_key
from service.webhooks.events import parse
from tests.support import compact, webhook_fixtures


@pytest.fixture
def inbox(database_url: str) -> Inbox:
    engine = db.create(database_url)
    migrate.upgrade(engine)
    return Inbox(engine)


def store(inbox: Inbox, body: bytes) -> int:
    event = parse(body)
    return inbox.record(
        NewEvent(
            event=event.name,
            event_ts=event.event_ts,
            account_id=event.account_id,
            dedupe_key=dedupe_key(event.data),
            body=body.decode(),
        )
    ).id


def status(inbox: Inbox, row_id: int) -> tuple[str, int, str | None]:
    with inbox.engine.connect() as conn:
        found = conn.execute(
            select(
                webhook_events.c.status, webhook_events.c.attempts, webhook_events.c.last_error
            ).where(webhook_events.c.id == row_id)
        ).one()
    return found.status, found.attempts, found.last_error


def live_handlers(inbox: Inbox) -> dict[str, Handler]:
    def schedule(_id: int, _at: object) -> None:
        pass

    live = LiveHandlers(Followups(inbox.engine), schedule, followup_delay=timedelta(0))
    return live.handlers()


def processor(
    inbox: Inbox, handlers: dict[str, Handler] | None = None, attempts: int = 3
) -> Processor:
    return Processor(
        inbox,
        handlers if handlers is not None else live_handlers(inbox),
        max_attempts=attempts,
    )


STORED_FIXTURES = [p for p in webhook_fixtures() if p.stem != "endpoint.url_validation"]


@pytest.mark.parametrize("path", STORED_FIXTURES, ids=lambda p: p.stem)
def test_every_fixture_is_done_or_ignored(inbox: Inbox, path: Path) -> None:
    body = compact(path)
    row_id = store(inbox, body)
    result = processor(inbox).process(row_id)
    handled = parse(body).name in live_handlers(inbox)
    assert result is (Result.DONE if handled else Result.IGNORED)
    assert status(inbox, row_id) == (result.value, 1, None)


def test_a_second_delivery_of_a_finished_row_does_nothing(inbox: Inbox) -> None:
    calls: list[int] = []

    def count(ctx: Context) -> Outcome:
        calls.append(ctx.inbox_id)
        return "done"

    row_id = store(inbox, b'{"event":"webinar.ended","payload":{"object":{"id":"1"}},"event_ts":2}')
    proc = processor(inbox, {"webinar.ended": count})
    assert proc.process(row_id) is Result.DONE
    assert proc.process(row_id) is Result.SKIPPED
    assert calls == [row_id]


def test_a_failing_handler_is_retried_then_failed_with_its_reason(inbox: Inbox) -> None:
    def broken(_ctx: Context) -> Outcome:
        raise RuntimeError("zoom said no")

    body = b'{"event":"meeting.started","payload":{"object":{"id":1}},"event_ts":5}'
    row_id = store(inbox, body)
    proc = processor(inbox, {"meeting.started": broken}, attempts=2)
    with pytest.raises(RetryLater, match="zoom said no"):
        proc.process(row_id)
    assert status(inbox, row_id) == ("received", 1, "RuntimeError: zoom said no")
    assert proc.process(row_id) is Result.FAILED
    assert status(inbox, row_id) == ("failed", 2, "RuntimeError: zoom said no")
    assert proc.process(row_id) is Result.SKIPPED


def test_a_handler_failure_rolls_back_its_writes(inbox: Inbox) -> None:
    body = b'{"event":"meeting.started","payload":{"object":{"id":1}},"event_ts":5}'
    row_id = store(inbox, body)
    other = store(inbox, b'{"event":"meeting.ended","payload":{},"event_ts":6}')

    def half_written(ctx: Context) -> Outcome:
        # a write inside the handler's transaction
        ctx.conn.execute(
            update(webhook_events).where(webhook_events.c.id == other).values(status="done")
        )
        raise RuntimeError("after the write")

    with pytest.raises(RetryLater):
        processor(inbox, {"meeting.started": half_written}).process(row_id)
    assert status(inbox, other)[0] == "received"


def started(n: int) -> bytes:
    return (
        f'{{"event":"meeting.started","payload":{{"object":{{"id":{n}}}}},"event_ts":{n}}}'.encode()
    )


def test_a_batch_is_claimed_and_finished_together(inbox: Inbox) -> None:
    ids = [store(inbox, started(n)) for n in range(1, 6)]
    calls: list[int] = []

    def count(ctx: Context) -> Outcome:
        calls.append(ctx.inbox_id)
        return "done"

    processed = processor(inbox, {"meeting.started": count}).process_batch([*ids, ids[0]])
    assert processed.results == dict.fromkeys(ids, Result.DONE)
    assert processed.retries == []
    assert calls == ids
    assert {status(inbox, i) for i in ids} == {("done", 1, None)}


def test_one_failing_row_of_a_batch_fails_alone(inbox: Inbox) -> None:
    ids = [store(inbox, started(n)) for n in range(1, 5)]
    bad = ids[2]

    def picky(ctx: Context) -> Outcome:
        ctx.conn.execute(
            update(webhook_events)
            .where(webhook_events.c.id == ctx.inbox_id)
            .values(zm_request_id="handled")
        )
        if ctx.inbox_id == bad:
            raise RuntimeError("this one is bad")
        return "done"

    processed = processor(inbox, {"meeting.started": picky}).process_batch(ids)
    assert processed.results == {**dict.fromkeys(ids, Result.DONE), bad: Result.RETRY}
    assert processed.retries == [(bad, 1)]
    assert processed.errors == {bad: "RuntimeError: this one is bad"}
    assert status(inbox, bad) == ("received", 1, "RuntimeError: this one is bad")
    with inbox.engine.connect() as conn:
        marked = conn.execute(
            select(webhook_events.c.id).where(webhook_events.c.zm_request_id == "handled")
        ).scalars()
        assert sorted(marked) == [i for i in ids if i != bad]  # the bad row's writes rolled back


@pytest.mark.postgres
def test_a_batch_whose_lease_was_taken_over_leaves_those_rows_to_the_new_holder(
    postgres_url: str,
) -> None:
    """(PostgreSQL: the take-over commits from a second connection mid-batch, which SQLite's
    one shared connection cannot.)"""
    engine = db.create(postgres_url)
    migrate.upgrade(engine)
    inbox = Inbox(engine)
    ids = [store(inbox, started(n)) for n in range(1, 4)]
    stolen = ids[1]

    def stall(ctx: Context) -> Outcome:
        if ctx.inbox_id == ids[0]:
            # Another worker took a row over meanwhile (this one stalled past its lease).
            with inbox.engine.begin() as conn:
                conn.execute(
                    update(webhook_events)
                    .where(webhook_events.c.id == stolen)
                    .values(lease_owner="someone-else")
                )
        return "done"

    processed = processor(inbox, {"meeting.started": stall}).process_batch(ids)
    assert processed.results[stolen] is Result.SKIPPED
    assert status(inbox, stolen) == ("processing", 1, None)  # untouched: the new holder's
    assert {status(inbox, i)[0] for i in ids if i != stolen} == {"done"}
