"""The composition root: builds every part from Settings, once per process."""

from __future__ import annotations

import logging
from datetime import timedelta

import dramatiq
from starlette.applications import Starlette

from service.config import Settings
from service.processing.handlers import default_handlers
from service.processing.ingest import Ingestor
from service.processing.process import Processor
from service.queue import actors, broker
from service.queue.sweeper import Sweeper
from service.queue.worker import Workers
from service.storage import db
from service.storage.inbox import Inbox
from service.web.app import Check, create_app

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = db.create(settings.database)
        self.inbox = Inbox(self.engine)
        self.broker: dramatiq.Broker = broker.create(settings)
        self.processor = Processor(
            self.inbox,
            default_handlers(),
            max_attempts=settings.max_attempts,
            processing_timeout=timedelta(seconds=settings.processing_timeout_seconds),
        )
        self.actors = actors.declare(
            self.broker, self.processor, queue_prefix=settings.queue_prefix
        )
        self.ingestor = Ingestor(
            secrets=settings.webhook_secrets,
            inbox=self.inbox,
            enqueue=self.enqueue,
            timestamp_tolerance_seconds=settings.timestamp_tolerance_seconds,
            future_skew_seconds=settings.future_skew_seconds,
        )
        self.sweeper = Sweeper(
            self.inbox,
            self.enqueue,
            sweep_after=timedelta(seconds=settings.sweep_after_seconds),
            processing_timeout=timedelta(seconds=settings.processing_timeout_seconds),
            interval_seconds=settings.sweep_interval_seconds,
        )
        self._workers: Workers | None = None

    def web_app(self) -> Starlette:
        return create_app(
            self.ingestor, max_body_bytes=self.settings.max_body_bytes, checks=self.checks()
        )

    def checks(self) -> dict[str, Check]:
        """What /readyz asks: can this process store, enqueue and verify?"""

        def secret() -> None:
            if not self.settings.webhook_secrets:
                raise LookupError("ZOOM_WEBHOOK_SECRET_TOKEN is not set")

        return {
            "database": self.inbox.ping,
            "broker": lambda: broker.ping(self.broker),
            "webhook_secret": secret,
        }

    def enqueue(self, inbox_id: int) -> None:
        self.actors.process_webhook.send(inbox_id)

    def start_workers(self) -> None:
        self._workers = Workers(
            self.broker, self.actors.queues, threads=self.settings.worker_threads
        )
        self._workers.start()

    def start_embedded(self) -> None:
        """Worker threads and the sweeper inside this process, after recovering from a crash.

        The embedded broker keeps its queue in memory, so anything unfinished in the inbox when
        this process starts was lost with the previous one: all of it is enqueued again.
        """
        released = self.inbox.release_orphans()
        self.start_workers()
        recovered = self.sweeper.sweep(everything=True)
        if released or recovered:
            log.info(
                "recovered %s unfinished inbox rows (%s were mid-processing)", recovered, released
            )
        self.sweeper.start()

    def close(self) -> None:
        self.sweeper.stop()
        if self._workers is not None:
            self._workers.stop()
        self.broker.close()
        self.engine.dispose()
