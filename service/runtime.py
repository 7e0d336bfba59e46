"""The composition root: builds every part from Settings, once per process."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import dramatiq
from starlette.applications import Starlette

from service.config import Settings
from service.processing.backfill import Backfiller
from service.processing.followup import FollowupRunner
from service.processing.ingest import Ingestor
from service.processing.live import LiveHandlers
from service.processing.priority import DeliveriesFirst, NoPriority
from service.processing.process import Processor
from service.queue import actors, broker
from service.queue.sweeper import Sweeper
from service.queue.worker import Workers
from service.storage import db
from service.storage.followups import Followups
from service.storage.gauges import DatabaseCollector
from service.storage.inbox import Inbox
from service.storage.tokens import DatabaseTokenStore
from service.storage.usage import UsageRecorder
from service.web.app import Check, NotReady, create_app
from service.zoom import ZoomClient

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = db.create(settings.database)
        self.inbox = Inbox(self.engine)
        self.followups = Followups(self.engine)
        self.usage = UsageRecorder(self.engine)
        self.broker: dramatiq.Broker = broker.create(settings)
        self.zoom = self._zoom_client(settings)
        # One process (embedded): deliveries Zoom waits on go before background work.
        self.priority = DeliveriesFirst() if settings.embedded else NoPriority()
        priority = self.priority
        processing_timeout = timedelta(seconds=settings.processing_timeout_seconds)
        self.runner = FollowupRunner(
            self.followups,
            lambda _account_id: self.zoom,
            not_ready_retry=timedelta(seconds=settings.not_ready_retry_seconds),
            not_ready_limit=timedelta(seconds=settings.not_ready_limit_seconds),
            running_timeout=processing_timeout,
            max_attempts=settings.max_attempts,
            priority=priority,
        )
        live = LiveHandlers(
            self.followups,
            self.schedule_followup,
            followup_delay=timedelta(seconds=settings.followup_delay_seconds),
        )
        self.processor = Processor(
            self.inbox,
            live.handlers(),
            max_attempts=settings.max_attempts,
            processing_timeout=processing_timeout,
            priority=priority,
        )
        self.actors = actors.declare(
            self.broker, self.processor, self.runner, queue_prefix=settings.queue_prefix
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
            self.followups,
            self.schedule_followup,
            sweep_after=timedelta(seconds=settings.sweep_after_seconds),
            processing_timeout=processing_timeout,
            interval_seconds=settings.sweep_interval_seconds,
        )
        self.backfiller = Backfiller(
            self.engine,
            self.followups,
            lambda _account_id: self.zoom,
            account_id=settings.zoom_account_id,
        )
        self._workers: Workers | None = None

    def _zoom_client(self, settings: Settings) -> ZoomClient | None:
        if not settings.zoom_configured or settings.zoom_client_secret is None:
            return None
        return ZoomClient(
            account_id=str(settings.zoom_account_id),
            client_id=str(settings.zoom_client_id),
            client_secret=settings.zoom_client_secret.get_secret_value(),
            api_base_url=settings.zoom_api_base_url,
            oauth_url=settings.zoom_oauth_url,
            token_store=DatabaseTokenStore(self.engine),
            on_request=self._count_zoom_request,
        )

    def _count_zoom_request(self, _endpoint: str, category: str, status: int | None) -> None:
        # OAuth calls carry no category and do not count against the API's limits.
        if category and status is not None and self.settings.zoom_account_id:
            self.usage.record(self.settings.zoom_account_id, category)

    def web_app(self) -> Starlette:
        return create_app(
            self.ingestor,
            max_body_bytes=self.settings.max_body_bytes,
            checks=self.checks(),
            priority=self.priority,
            collectors=[DatabaseCollector(self.engine, daily_cap=self.settings.zoom_daily_cap)],
            # A delivery whose enqueue fails is still stored and answered 200 (the sweeper
            # enqueues it later), so a broker outage must not take web pods out of rotation.
            advisory={"broker"},
        )

    def checks(self) -> dict[str, Check]:
        """What /readyz asks: can this process store, enqueue and verify?"""

        def secret() -> None:
            if not self.settings.webhook_secrets:
                raise NotReady("ZOOM_WEBHOOK_SECRET_TOKEN is not set")

        return {
            "database": self.inbox.ping,
            "broker": lambda: broker.ping(self.broker),
            "webhook_secret": secret,
        }

    def enqueue(self, inbox_id: int) -> None:
        self.actors.process_webhook.send(inbox_id)

    def schedule_followup(self, followup_id: int, at: datetime) -> None:
        self.actors.schedule_followup(followup_id, at)

    def start_workers(self) -> None:
        self._workers = Workers(
            self.broker, self.actors.queues, threads=self.settings.worker_threads
        )
        self._workers.start()

    def start_embedded(self) -> None:
        """Worker threads and the sweeper inside this process, after recovering from a crash.

        The embedded broker keeps its queue in memory, so anything unfinished in the inbox or
        among the follow-ups when this process starts was lost with the previous one: all of it
        is enqueued again.
        """
        released = self.inbox.release_orphans()
        self.start_workers()
        recovered = self.sweeper.sweep(everything=True)
        if released or recovered:
            log.info(
                "recovered %s unfinished rows and jobs (%s inbox rows were mid-processing)",
                recovered,
                released,
            )
        self.sweeper.start()

    def close(self) -> None:
        self.sweeper.stop()
        if self._workers is not None:
            self._workers.stop()
        self.broker.close()
        if self.zoom is not None:
            self.zoom.close()
        self.engine.dispose()
