"""The actors, bound to a given broker (not a global one) so each process wires its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dramatiq

from service.processing.followup import FollowupRunner
from service.processing.process import Processor, RetryLater
from service.storage.types import utcnow

#: First and longest pause between retries of one inbox row (milliseconds). The longest stays
#: well under the sweeper's `sweep_after`, so a waiting retry is not mistaken for a lost message.
DEFAULT_MIN_BACKOFF = 1_000
DEFAULT_MAX_BACKOFF = 60_000
WEBHOOK_QUEUE = "webhooks"
#: Follow-ups get their own queue, so slow Zoom calls never delay the inbox.
FOLLOWUP_QUEUE = "followups"


@dataclass(frozen=True, slots=True)
class Actors:
    process_webhook: dramatiq.Actor[[int], None]
    run_followup: dramatiq.Actor[[int], None]

    @property
    def queues(self) -> set[str]:
        return {self.process_webhook.queue_name, self.run_followup.queue_name}

    def schedule_followup(self, followup_id: int, at: datetime) -> None:
        """Enqueue a follow-up job to run no earlier than `at`."""
        delay_ms = int((at - utcnow()).total_seconds() * 1000)
        self.run_followup.send_with_options(
            args=(followup_id,), delay=delay_ms if delay_ms > 0 else None
        )


def declare(
    broker: dramatiq.Broker,
    processor: Processor,
    runner: FollowupRunner,
    *,
    queue_prefix: str,
) -> Actors:
    def process_webhook(inbox_id: int) -> None:
        try:
            processor.process(inbox_id)
        except RetryLater as exc:
            raise dramatiq.Retry(str(exc)) from exc

    options: dict[str, Any] = {
        # The row's `attempts` is the real budget; this only keeps Dramatiq from giving up first.
        "max_retries": processor.max_attempts,
        "min_backoff": DEFAULT_MIN_BACKOFF,
        "max_backoff": DEFAULT_MAX_BACKOFF,
    }
    actor: dramatiq.Actor[[int], None] = dramatiq.Actor(
        process_webhook,
        broker=broker,
        actor_name="process_webhook",
        queue_name=f"{queue_prefix}.{WEBHOOK_QUEUE}",
        priority=0,
        options=options,
    )

    def run_followup(followup_id: int) -> None:
        later = runner.run(followup_id)
        if later is not None:
            actors.schedule_followup(followup_id, later.at)

    followup_actor: dramatiq.Actor[[int], None] = dramatiq.Actor(
        run_followup,
        broker=broker,
        actor_name="run_followup",
        queue_name=f"{queue_prefix}.{FOLLOWUP_QUEUE}",
        priority=0,
        # Zoom waits (429, not ready) are fresh delayed messages, not retries; these are for
        # crashes in between (database down at claim time), which the job sweeper also covers.
        options={**options, "max_retries": runner.max_attempts},
    )
    actors = Actors(process_webhook=actor, run_followup=followup_actor)
    return actors
