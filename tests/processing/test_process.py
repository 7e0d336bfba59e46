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
