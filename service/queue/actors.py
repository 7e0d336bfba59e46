"""The actors, bound to a given broker (not a global one) so each process wires its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dramatiq

from service.processing.process import Processor, RetryLater

#: First and longest pause between retries of one inbox row (milliseconds). The longest stays
#: well under the sweeper's `sweep_after`, so a waiting retry is not mistaken for a lost message.
DEFAULT_MIN_BACKOFF = 1_000
DEFAULT_MAX_BACKOFF = 60_000
WEBHOOK_QUEUE = "webhooks"


@dataclass(frozen=True, slots=True)
class Actors:
    process_webhook: dramatiq.Actor[[int], None]

    @property
    def queues(self) -> set[str]:
        return {self.process_webhook.queue_name}


def declare(broker: dramatiq.Broker, processor: Processor, *, queue_prefix: str) -> Actors:
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
    return Actors(process_webhook=actor)
