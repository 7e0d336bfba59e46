"""A worker is live while its Dramatiq threads run and none sits in one message without
progress; a dependency outage leaves it live."""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

from service.devtools.fakezoom import RunningFake
from service.processing.live import FOLLOWUP_RESOURCES
from service.queue.liveness import Liveness
from tests.conftest import MakeRuntime
from tests.support import event_body, followups_done, signed_headers, wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def message(actor: str = "run_followup") -> dramatiq.MessageProxy:
    return dramatiq.MessageProxy(dramatiq.Message("q", actor, (1,), {}, {}))


def test_a_message_without_progress_past_stuck_after_is_a_problem() -> None:
    clock = Clock()
    liveness = Liveness(stuck_after=60, clock=clock)
    broker = StubBroker()
    msg = message()
    liveness.before_process_message(broker, msg)
    clock.now += 59
    assert liveness.problems(None) == []
    clock.now += 2
    (problem,) = liveness.problems(None)
    assert "run_followup" in problem and msg.message_id in problem and "61 s" in problem
    liveness.beat()  # the thread made progress: live again, for another stuck_after
    assert liveness.problems(None) == []
    clock.now += 61
    assert liveness.problems(None) != []
    liveness.after_process_message(broker, msg, exception=RuntimeError("boom"))
    assert liveness.problems(None) == []
    liveness.beat()  # outside a message: nothing to refresh, nothing recorded
    clock.now += 1000
    assert liveness.problems(None) == []


def test_a_skipped_message_ends_the_threads_work_too() -> None:
    clock = Clock()
    liveness = Liveness(stuck_after=1, clock=clock)
    broker = StubBroker()
    msg = message("process_webhook")
    liveness.before_process_message(broker, msg)
    liveness.after_skip_message(broker, msg)
    clock.now += 10
    assert liveness.problems(None) == []


def test_dead_dramatiq_threads_are_a_problem() -> None:
    broker = StubBroker()
    broker.declare_queue("q")
    liveness = Liveness()
    worker = dramatiq.Worker(broker, queues={"q"}, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        assert liveness.problems(worker) == []
    finally:
        worker.stop()
    (problem,) = liveness.problems(worker)
    assert problem.startswith("Dramatiq threads died: ")


def test_a_working_runtime_is_live_and_its_zoom_calls_beat(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    assert runtime.worker_problems() == []  # not started yet: nothing is wedged
    beats: list[int] = []
    beat = runtime.liveness.beat

    def counted() -> None:
        beats.append(1)
        beat()

    runtime.liveness.beat = counted  # type: ignore[method-assign]
    inst = fake_zoom.fake.world.add_webinar(81234567890, participants=5, absentees=1)
    runtime.start_workers()
    body = event_body("webinar.ended", {"id": str(inst.id), "uuid": inst.uuid}, event_ts=5)
    runtime.ingestor.ingest(body, signed_headers(body))
    wait_until(lambda: followups_done(runtime, len(FOLLOWUP_RESOURCES["webinar"])), timeout=30)
    assert runtime.worker_problems() == []
    assert len(beats) >= fake_zoom.fake.calls() - fake_zoom.fake.calls("oauthToken")


def test_a_worker_thread_stuck_in_a_message_makes_the_worker_wedged_until_it_returns() -> None:
    broker = StubBroker()
    liveness = Liveness(stuck_after=0.2)
    broker.add_middleware(liveness)
    release = threading.Event()

    def hang() -> None:
        release.wait(10)

    actor: dramatiq.Actor[[], None] = dramatiq.Actor(
        hang, broker=broker, actor_name="hang", queue_name="q", priority=0, options={}
    )
    worker = dramatiq.Worker(broker, queues={"q"}, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        actor.send()
        wait_until(lambda: liveness.problems(worker) != [], timeout=5)
        (problem,) = liveness.problems(worker)
        assert problem.startswith("hang message ") and "no progress" in problem
        release.set()
        broker.join("q")
        worker.join()
        assert liveness.problems(worker) == []
    finally:
        release.set()
        worker.stop()
