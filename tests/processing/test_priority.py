"""Deliveries first: background work waits while deliveries are in flight, but never forever."""

from __future__ import annotations

import threading

from service.processing.priority import DeliveriesFirst, NoPriority
from service.runtime import Runtime
from tests.conftest import MakeRuntime
from tests.support import event_body, signed_headers, wait_until


def test_defer_returns_at_once_when_no_delivery_is_in_flight() -> None:
    assert DeliveriesFirst(max_defer=30).defer() is True


def test_defer_waits_for_the_deliveries_to_end() -> None:
    gate = DeliveriesFirst(max_defer=30)
    release = threading.Event()
    inside = threading.Event()

    def delivery() -> None:
        with gate.delivery():
            inside.set()
            release.wait()

    thread = threading.Thread(target=delivery)
    thread.start()
    inside.wait()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(gate.defer()))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # still deferring to the delivery
    release.set()
    waiter.join(5)
    thread.join(5)
    assert result == [True]
    assert gate.in_flight == 0


def test_defer_is_bounded_so_background_work_always_progresses() -> None:
    gate = DeliveriesFirst(max_defer=0.05)
    with gate.delivery():
        assert gate.defer() is False  # went ahead although a delivery is in flight


def test_separate_processes_have_nothing_to_yield_to() -> None:
    gate = NoPriority(max_defer=30)
    with gate.delivery():
        assert gate.defer() is True


def test_only_the_embedded_runtime_yields(make_runtime: MakeRuntime, redis_url: str) -> None:
    embedded: Runtime = make_runtime()
    assert type(embedded.processor.priority) is DeliveriesFirst
    assert embedded.processor.priority is embedded.priority is embedded.runner.priority
    brokered = make_runtime(broker_url=redis_url, database_url=embedded.settings.database)
    assert type(brokered.processor.priority) is NoPriority


def test_events_are_processed_while_deliveries_keep_coming(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime()
    runtime.start_workers()
    stop = threading.Event()

    def deliver(k: int) -> None:
        i = 0
        while not stop.is_set():
            body = event_body("meeting.started", {"id": "1", "uuid": f"u{k}-{i}=="}, event_ts=i)
            with runtime.priority.delivery():
                runtime.ingestor.ingest(body, signed_headers(body))
            i += 1

    threads = [threading.Thread(target=deliver, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: runtime.inbox.counts().get("done", 0) >= 3, timeout=30)
    finally:
        stop.set()
        for t in threads:
            t.join()
    wait_until(lambda: set(runtime.inbox.counts()) == {"done"}, timeout=60)
