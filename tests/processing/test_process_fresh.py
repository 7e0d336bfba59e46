"""New rows processed in the transaction that stores them (the embedded group commit)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from service.processing.handlers import Context, Handler, Outcome
from service.processing.ingest import InboxWriter
from service.processing.live import LiveHandlers
from service.processing.process import Processor
from service.storage import db, migrate
from service.storage.followups import Followups
from service.storage.inbox import Inbox, NewEvent
from service.storage.models import followups, webhook_events
from service.storage.records import KindConflict
from service.webhooks.dedupe import dedupe_key
from service.webhooks.events import parse
from tests.support import event_body

UNHANDLED = "test.unhandled"


@pytest.fixture
def inbox(database_url: str) -> Inbox:
    engine = db.create(database_url)
    migrate.upgrade(engine)
    return Inbox(engine)


def new_event(body: bytes, *, parsed: bool = True) -> NewEvent:
    event = parse(body)
    return NewEvent(
        event=event.name,
        event_ts=event.event_ts,
        account_id=event.account_id,
        dedupe_key=dedupe_key(event.data),
        body=event.text,
        parsed=event if parsed else None,
    )


def joined(n: int) -> bytes:
    meeting = {
        "id": "86431910364",
        "uuid": f"fresh-meeting-{n % 2}==",
        "topic": "Zoë",
        "type": 2,
        "participant": {"user_id": f"u{n}", "user_name": f"Zoë {n}", "id": f"p{n}"},
    }
    return event_body("meeting.participant_joined", meeting, event_ts=1_700_000_000_000 + n)


def ended(n: int) -> bytes:
    meeting = {"id": "86431910364", "uuid": f"fresh-ended-{n}==", "topic": "t", "type": 2}
    return event_body("meeting.ended", meeting, event_ts=1_700_000_100_000 + n)


def rows(inbox: Inbox) -> dict[int, tuple[str, int]]:
    c = webhook_events.c
    with inbox.engine.connect() as conn:
        found = conn.execute(select(c.id, c.status, c.attempts)).all()
    return {row.id: (row.status, row.attempts) for row in found}


class Writer:
    """An InboxWriter whose processor runs `handlers`, recording what it enqueues and
    schedules."""

    def __init__(self, inbox: Inbox, handlers: dict[str, Handler] | None = None) -> None:
        self.enqueued: list[int] = []
        self.scheduled: list[int] = []
        live = LiveHandlers(Followups(inbox.engine), self.schedule, followup_delay=timedelta(0))
        self.processor = Processor(
            inbox, handlers if handlers is not None else live.handlers(), max_attempts=3
        )
        self.writer = InboxWriter(inbox, self.enqueued.extend)
        self.writer.process_fresh(self.processor)

    def schedule(self, followup_id: int, _at: datetime) -> None:
        self.scheduled.append(followup_id)

    def submit(self, *news: NewEvent) -> list[int]:
        futures = [self.writer.commits.submit(new) for new in news]
        return [future.result(timeout=10).id for future in futures]

    def close(self) -> None:
        self.writer.close()


def test_new_rows_are_finished_in_the_storing_transaction(inbox: Inbox) -> None:
    writer = Writer(inbox)
    try:
        ids = writer.submit(
            new_event(joined(1)),
            new_event(joined(2), parsed=False),  # parsed again from the body
            new_event(event_body(UNHANDLED, {"id": "x"}, event_ts=1)),
            new_event(ended(1)),
        )
    finally:
        writer.close()
    found = rows(inbox)
    assert [found[i] for i in ids] == [("done", 1), ("done", 1), ("ignored", 1), ("done", 1)]
    assert writer.enqueued == []  # nothing left for the workers
    with inbox.engine.connect() as conn:
        jobs = conn.execute(select(followups.c.id)).scalars().all()
    # meeting.ended's jobs were created in that transaction and scheduled after its commit.
    assert jobs and sorted(writer.scheduled) == sorted(jobs)


def test_a_failing_handler_leaves_the_batch_to_the_workers(inbox: Inbox) -> None:
    calls: list[int] = []

    def flaky(ctx: Context) -> Outcome:
        calls.append(ctx.inbox_id)
        if ctx.event.event_ts == 2:
            raise RuntimeError("boom")
        # A write that the savepoint's rollback must undo.
        inbox.finish_fresh(ctx.conn, {ctx.inbox_id: "done"})
        return "done"

    writer = Writer(inbox, {"test.flaky": flaky})
    try:
        ids = writer.submit(
            *(new_event(event_body("test.flaky", {"id": n}, event_ts=n)) for n in (1, 2, 3))
        )
    finally:
        writer.close()
    assert calls  # the handlers ran, and failed
    # Every row is committed, untouched, and handed to the workers.
    assert [rows(inbox)[i] for i in ids] == [("received", 0)] * 3
    assert sorted(writer.enqueued) == sorted(ids)
    # The workers then process them as usual, one bad row failing only itself.
    processed = writer.processor.process_batch(ids)
    assert [processed.results[i].value for i in ids] == ["done", "retry", "done"]


def test_a_redelivery_is_not_processed_again(inbox: Inbox) -> None:
    calls: list[int] = []

    def counting(ctx: Context) -> Outcome:
        calls.append(ctx.inbox_id)
        return "done"

    writer = Writer(inbox, {"test.once": counting})
    body = event_body("test.once", {"id": 1}, event_ts=1)
    try:
        first = writer.submit(new_event(body), new_event(body))  # twice in one batch
        again = writer.submit(new_event(body))  # and later
    finally:
        writer.close()
    assert first == [first[0]] * 2 and again == first[:1]
    assert calls == first[:1]
    with inbox.engine.connect() as conn:
        total = conn.execute(select(func.sum(webhook_events.c.deliveries))).scalar_one()
    assert total == 3
    assert writer.enqueued == []


def store_and_process(writer: Writer, news: list[NewEvent]) -> tuple[list[int], int]:
    """One group commit's batch, processed in its transaction: (row ids, statements run)."""
    statements = 0

    def counted(*_: object) -> None:
        nonlocal statements
        statements += 1

    engine = writer.writer.inbox.write_engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        recorded = writer.writer._write(news)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    writer.writer._enqueue_new(news, recorded)
    return [r.id for r in recorded], statements


def test_a_batch_writes_each_live_table_once_however_many_rows_it_has(inbox: Inbox) -> None:
    writer = Writer(inbox)
    try:
        small, few = store_and_process(writer, [new_event(joined(1)), new_event(ended(1))])
        many = [
            *(new_event(joined(n)) for n in range(10, 40)),
            *(new_event(ended(n)) for n in range(10, 14)),
        ]
        large, more = store_and_process(writer, many)
    finally:
        writer.close()
    assert more == few  # one statement per table, not one or more per row
    found = rows(inbox)
    assert {found[i] for i in small + large} == {("done", 1)}
    with inbox.engine.connect() as conn:
        jobs = conn.execute(select(func.count()).select_from(followups)).scalar_one()
    assert jobs == 5 * 5 and len(writer.scheduled) == jobs  # five per ended meeting


def test_a_kind_conflict_in_a_batch_leaves_it_to_the_workers_where_it_fails_alone(
    inbox: Inbox,
) -> None:
    started = event_body("meeting.started", {"id": 1, "uuid": "clash=="}, event_ts=1)
    clash = {"id": 2, "uuid": "clash==", "participant": {"id": "p", "user_name": "Ana"}}
    wrong = event_body("webinar.participant_joined", clash, event_ts=2)
    writer = Writer(inbox)
    try:
        ids, _ = store_and_process(
            writer, [new_event(started), new_event(wrong), new_event(joined(1))]
        )
    finally:
        writer.close()
    assert [rows(inbox)[i] for i in ids] == [("received", 0)] * 3
    assert sorted(writer.enqueued) == sorted(ids)
    processed = writer.processor.process_batch(ids)
    assert [processed.results[i].value for i in ids] == ["done", "failed", "done"]
    assert KindConflict.__name__ in processed.errors[ids[1]]
