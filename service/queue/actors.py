"""The actors, bound to a given broker (not a global one) so each process wires its own."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import dramatiq

from service.processing.actions import ActionRunner
from service.processing.download import DownloadRunner
from service.processing.followup import FollowupRunner, Later
from service.processing.process import Processor, RetryLater
from service.storage.types import utcnow

#: First and longest pause between retries of one inbox row (milliseconds). The longest stays
#: well under the sweeper's `sweep_after`, so a waiting retry is not mistaken for a lost message.
DEFAULT_MIN_BACKOFF = 1_000
DEFAULT_MAX_BACKOFF = 60_000
WEBHOOK_QUEUE = "webhooks"
#: Follow-ups get their own queue, so slow Zoom calls never delay the inbox.
FOLLOWUP_QUEUE = "followups"
#: Recording downloads get their own queue and their own few threads (Settings
#: `recordings_threads`), so hour-long transfers never hold the threads the API calls need.
RECORDINGS_QUEUE = "recordings"
#: Longest one download attempt may run before Dramatiq interrupts it (milliseconds); the
#: part stored so far is kept and the next attempt resumes it.
DEFAULT_DOWNLOAD_TIME_LIMIT = 6 * 60 * 60 * 1000
#: Longest wait sent as a delayed broker message (seconds). RabbitMQ holds a delayed message
#: unacknowledged at the consumer, and closes the channel of a consumer that holds one past
#: its `consumer_timeout` (30 min by default): longer waits stay on the job row alone
#: (`next_attempt_at`), and the sweeper enqueues the job once it is due.
DEFAULT_MAX_MESSAGE_DELAY = 15 * 60

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Actors:
    process_webhook: dramatiq.Actor[[int], None]
    process_webhooks: dramatiq.Actor[[list[int]], None]
    run_followup: dramatiq.Actor[[int], None]
    run_action: dramatiq.Actor[[int], None]
    max_message_delay: timedelta = timedelta(seconds=DEFAULT_MAX_MESSAGE_DELAY)
    #: None unless recording downloads are configured.
    download_recording: dramatiq.Actor[[int], None] | None = None

    @property
    def download_queues(self) -> set[str]:
        """The downloads' queue, consumed by its own worker threads; empty when off."""
        actor = self.download_recording
        return {actor.queue_name} if actor is not None else set()

    @property
    def queues(self) -> set[str]:
        return {self.process_webhook.queue_name, self.run_followup.queue_name}

    def enqueue(self, inbox_ids: Sequence[int]) -> None:
        """One message for a batch of inbox rows (one for a single row)."""
        if len(inbox_ids) == 1:
            self.process_webhook.send(inbox_ids[0])
        elif inbox_ids:
            self.process_webhooks.send(list(inbox_ids))

    def schedule_followup(self, followup_id: int, at: datetime) -> None:
        """Enqueue a follow-up job to run no earlier than `at`.

        A wait longer than `max_message_delay` sends nothing: the job row keeps its
        `next_attempt_at`, and the sweeper enqueues it when it is due.
        """
        self._schedule(self.run_followup, followup_id, at)

    def schedule_action(self, action_id: int, at: datetime) -> None:
        """Enqueue a write-side action, like a follow-up job (same queue, same parking)."""
        self._schedule(self.run_action, action_id, at)

    def schedule_download(self, job_id: int, at: datetime) -> None:
        """Enqueue a recording download, like a follow-up (parked when the wait is long)."""
        if self.download_recording is None:
            log.debug("recording download %s not enqueued: downloads are off here", job_id)
            return
        self._schedule(self.download_recording, job_id, at)

    def _schedule(self, actor: dramatiq.Actor[[int], None], job_id: int, at: datetime) -> None:
        delay = at - utcnow()
        if delay > self.max_message_delay:
            log.debug("%s %s parked until %s", actor.actor_name, job_id, at)
            return
        delay_ms = int(delay.total_seconds() * 1000)
        actor.send_with_options(args=(job_id,), delay=delay_ms if delay_ms > 0 else None)


def retry_delay_ms(attempts: int, rng: random.Random) -> int:
    """Exponential backoff with full jitter between the retries of one inbox row."""
    ceiling = min(DEFAULT_MAX_BACKOFF, DEFAULT_MIN_BACKOFF * 2 ** min(attempts - 1, 16))
    return rng.randint(DEFAULT_MIN_BACKOFF, max(DEFAULT_MIN_BACKOFF, ceiling))


def declare(
    broker: dramatiq.Broker,
    processor: Processor,
    runner: FollowupRunner,
    action_runner: ActionRunner,
    *,
    queue_prefix: str,
    max_message_delay: timedelta = timedelta(seconds=DEFAULT_MAX_MESSAGE_DELAY),
    download_runner: DownloadRunner | None = None,
) -> Actors:
    rng = random.Random()

    def process_webhook(inbox_id: int) -> None:
        try:
            processor.process(inbox_id)
        except RetryLater as exc:
            raise dramatiq.Retry(str(exc)) from exc

    def process_webhooks(inbox_ids: list[int]) -> None:
        # A row of the batch that failed goes on alone, after its own backoff.
        for row_id, attempts in processor.process_batch(inbox_ids).retries:
            actor.send_with_options(args=(row_id,), delay=retry_delay_ms(attempts, rng))

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
    batch_actor: dramatiq.Actor[[list[int]], None] = dramatiq.Actor(
        process_webhooks,
        broker=broker,
        actor_name="process_webhooks",
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

    def run_action(action_id: int) -> None:
        later: Later | None = action_runner.run(action_id)
        if later is not None:
            actors.schedule_action(action_id, later.at)

    action_actor: dramatiq.Actor[[int], None] = dramatiq.Actor(
        run_action,
        broker=broker,
        actor_name="run_action",
        # Actions are rare and short: they share the follow-ups' queue and workers.
        queue_name=f"{queue_prefix}.{FOLLOWUP_QUEUE}",
        priority=0,
        options={**options, "max_retries": action_runner.max_attempts},
    )
    download_actor: dramatiq.Actor[[int], None] | None = None
    if download_runner is not None:
        downloads = download_runner

        def download_recording(job_id: int) -> None:
            later = downloads.run(job_id)
            if later is not None:
                actors.schedule_download(job_id, later.at)

        download_actor = dramatiq.Actor(
            download_recording,
            broker=broker,
            actor_name="download_recording",
            queue_name=f"{queue_prefix}.{RECORDINGS_QUEUE}",
            priority=0,
            # A transfer may run for an hour: Dramatiq's default 10 min time limit would kill it.
            # The job's lease (renewed by the heartbeat) is what guards against a dead worker.
            options={
                **options,
                "max_retries": downloads.max_attempts,
                "time_limit": DEFAULT_DOWNLOAD_TIME_LIMIT,
            },
        )
    actors = Actors(
        process_webhook=actor,
        process_webhooks=batch_actor,
        run_followup=followup_actor,
        run_action=action_actor,
        max_message_delay=max_message_delay,
        download_recording=download_actor,
    )
    return actors
