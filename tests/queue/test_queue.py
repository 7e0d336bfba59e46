"""The queue on the embedded StubBroker, RabbitMQ and Redis: enqueue, process, sweep, ping."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from service.queue import broker as brokers
from service.storage.inbox import NewEvent
from service.storage.models import webhook_events
from service.storage.types import utcnow
from tests.conftest import MakeRuntime
from tests.support import event_body, signed_headers, wait_until

STARTED = event_body("meeting.started", {"id": "1", "uuid": "m1=="}, event_ts=1).decode()


def statuses(runtime: object) -> dict[str, int]:
    return runtime.inbox.counts()  # type: ignore[attr-defined, no-any-return]


def test_ingested_events_are_processed_by_the_workers(
    make_runtime: MakeRuntime, broker_url: str | None
) -> None:
    runtime = make_runtime(broker_url=broker_url)
    brokers.ping(runtime.broker)
    runtime.start_workers()
    for i in range(20):
        person = {"user_id": str(i), "user_name": f"Zoë {i}", "join_time": "2024-03-01T14:00:00Z"}
        obj = {"id": "1", "uuid": "inst==", "participant": person}
        body = event_body("meeting.participant_joined", obj, event_ts=1)
        runtime.ingestor.ingest(body, signed_headers(body))
    unknown = b'{"event":"meeting.chat_message_sent","payload":{},"event_ts":1}'
    runtime.ingestor.ingest(unknown, signed_headers(unknown))
    wait_until(lambda: statuses(runtime) == {"done": 20, "ignored": 1}, timeout=30)


def test_the_sweeper_enqueues_rows_whose_message_was_lost(
    make_runtime: MakeRuntime, broker_url: str | None
) -> None:
    runtime = make_runtime(broker_url=broker_url)
    # Committed but never enqueued: what a crash between commit and enqueue leaves behind.
    for i in range(5):
        runtime.inbox.record(
            NewEvent(
                event="meeting.started",
                event_ts=i,
                account_id=None,
                dedupe_key=f"lost-{i}",
                body=STARTED,
            )
        )
    with runtime.engine.begin() as conn:
        conn.execute(update(webhook_events).values(updated_at=utcnow() - timedelta(hours=1)))
    runtime.start_workers()
    assert runtime.sweeper.sweep() == 5
    wait_until(lambda: statuses(runtime) == {"done": 5}, timeout=30)
    assert runtime.sweeper.sweep() == 0


def test_the_periodic_sweeper_finds_lost_rows_on_its_own(
    make_runtime: MakeRuntime, broker_url: str | None
) -> None:
    runtime = make_runtime(broker_url=broker_url, sweep_after_seconds=0, sweep_interval_seconds=0.1)
    runtime.inbox.record(
        NewEvent(
            event="meeting.ended",
            event_ts=1,
            account_id=None,
            dedupe_key="lost",
            body=STARTED,
        )
    )
    runtime.start_workers()
    runtime.sweeper.start()
    wait_until(lambda: statuses(runtime) == {"done": 1}, timeout=30)


def test_a_duplicate_message_for_one_row_is_processed_once(
    make_runtime: MakeRuntime, broker_url: str | None
) -> None:
    runtime = make_runtime(broker_url=broker_url)
    body = event_body("webinar.started", {"id": "9", "uuid": "w9=="}, event_ts=3)
    accepted = runtime.ingestor.ingest(body, signed_headers(body))
    row_id = accepted.inbox_id  # type: ignore[union-attr]
    for _ in range(3):
        runtime.enqueue(row_id)
    runtime.start_workers()
    wait_until(lambda: statuses(runtime) == {"done": 1}, timeout=30)
    with runtime.engine.connect() as conn:
        attempts = conn.execute(select(webhook_events.c.attempts)).scalar_one()
    assert attempts == 1


def test_embedded_start_recovers_everything_unfinished(make_runtime: MakeRuntime) -> None:
    first = make_runtime()
    ids = [
        first.inbox.record(
            NewEvent(
                event="meeting.started",
                event_ts=i,
                account_id=None,
                dedupe_key=f"k{i}",
                body=STARTED,
            )
        ).id
        for i in range(4)
    ]
    first.inbox.claim([ids[0]], "a-process-that-died")  # died mid-processing
    first.close()
    second = make_runtime()
    second.start_embedded()
    wait_until(lambda: statuses(second) == {"done": 4}, timeout=30)


def test_a_wait_longer_than_a_broker_may_hold_is_parked_on_the_row(
    make_runtime: MakeRuntime, broker_url: str | None
) -> None:
    """RabbitMQ closes the channel of a consumer holding a delayed message past its
    consumer_timeout (30 min by default): a 4 h wait sends no message at all, a short one does,
    and the parked job is enqueued by the sweeper once it is due."""
    runtime = make_runtime(broker_url=broker_url, sweep_after_seconds=60)
    assert runtime.actors.max_message_delay == timedelta(seconds=60)
    sent: list[tuple[tuple[object, ...], object]] = []
    actor = runtime.actors.run_followup
    original = actor.send_with_options

    def spy(**options: object) -> object:
        sent.append((options["args"], options.get("delay")))  # type: ignore[arg-type]
        return original(**options)  # type: ignore[arg-type]

    actor.send_with_options = spy  # type: ignore[method-assign, assignment]
    runtime.actors.schedule_followup(1, utcnow() + timedelta(hours=4))
    runtime.actors.schedule_followup(2, utcnow() + timedelta(seconds=30))
    assert [args for args, _ in sent] == [(2,)]
    delay = sent[0][1]
    assert isinstance(delay, int) and 25_000 <= delay <= 30_000
