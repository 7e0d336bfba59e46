"""The composition root: builds every part from Settings, once per process."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import dramatiq
from sqlalchemy import Engine
from starlette.applications import Starlette

from service import metrics
from service.apps import DEFAULT_APP, Credentials
from service.config import Settings, parse_database_url
from service.governor import Governor, MemoryStateStore, StateStore, budget_for
from service.governor.redis import RedisStateStore
from service.listen.listener import Listener, Subscription
from service.listen.policy import DEFAULT_GAP_LOOKBACK, Timing
from service.listen.service import Listeners, inbox_store
from service.objectstore import open_backend
from service.probe import ProbeServer, liveness
from service.processing.actions import ActionHandlers, ActionRunner
from service.processing.backfill import Backfiller
from service.processing.download import DownloadRunner
from service.processing.followup import FollowupRunner
from service.processing.gaps import DEFAULT_INTERVAL as GAP_INTERVAL
from service.processing.gaps import GapReconciler
from service.processing.ingest import InboxWriter, Ingestor
from service.processing.live import LiveHandlers, followup_resources
from service.processing.process import Processor
from service.processing.recordings import DownloadHandlers
from service.processing.sources import with_downloads
from service.queue import actors, broker
from service.queue.liveness import Liveness
from service.queue.purger import Purger
from service.queue.sweeper import Sweeper
from service.queue.worker import Workers
from service.readiness import Check, NotReady, Readiness
from service.storage import db, retention
from service.storage.actions import ActionJobs
from service.storage.downloads import DownloadJobs
from service.storage.followups import Followups
from service.storage.gaps import Gaps
from service.storage.gauges import DatabaseCollector
from service.storage.heartbeat import Heartbeat
from service.storage.inbox import Inbox
from service.storage.ratestate import DatabaseStateStore
from service.storage.subscriptions import SubscriptionLeases
from service.storage.tokens import DatabaseTokenStore
from service.storage.usage import UsageRecorder
from service.web.app import create_app
from service.zoom import ZoomClient
from service.zoom.clients import ZoomClients

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = db.create(settings.database, pool_size=settings.pool_size)
        lease = timedelta(seconds=settings.lease_seconds)
        self.inbox = Inbox(self.engine, lease=lease, write_engine=self._write_engine(settings))
        self.followups = Followups(self.engine, lease=lease)
        self.actions = ActionJobs(self.engine, lease=lease)
        self.downloads = DownloadJobs(self.engine, lease=lease)
        self.heartbeat = Heartbeat(
            self.engine,
            [self.inbox.leases, self.followups.leases, self.actions.leases, self.downloads.leases],
        )
        self.usage = UsageRecorder(self.engine)
        self.broker: dramatiq.Broker = broker.create(settings)
        self.liveness = Liveness()
        self.broker.add_middleware(self.liveness)
        self.governor = self._governor(settings)
        self.zoom = ZoomClients(settings.apps, self._zoom_client)
        self.action_runner = ActionRunner(
            self.actions,
            self.zoom.for_account,
            max_attempts=settings.max_attempts,
            heartbeat=self.heartbeat,
        )
        resources = followup_resources(reports=settings.fetch_reports)
        live = LiveHandlers(
            self.followups,
            self.schedule_followup,
            followup_delay=timedelta(seconds=settings.followup_delay_seconds),
            resources=resources,
        )
        acting = ActionHandlers(settings.apps, self.actions, self.schedule_action)
        handlers = live.handlers()
        self.download_runner: DownloadRunner | None = None
        downloading: DownloadHandlers | None = None
        recording_downloads = settings.recording_downloads
        if recording_downloads is not None:
            self.download_runner = DownloadRunner(
                self.downloads,
                open_backend(recording_downloads.storage),
                self.zoom.for_account,
                max_attempts=settings.max_attempts,
                heartbeat=self.heartbeat,
                beat=self.liveness.beat,
            )
            downloading = DownloadHandlers(
                recording_downloads, self.downloads, self.schedule_download
            )
            handlers = downloading.wrap(handlers)
        self.runner = FollowupRunner(
            self.followups,
            self.zoom.for_account,
            not_ready_retry=timedelta(seconds=settings.not_ready_retry_seconds),
            not_ready_limit=timedelta(seconds=settings.not_ready_limit_seconds),
            max_attempts=settings.max_attempts,
            heartbeat=self.heartbeat,
            # Backfilled recordings queue their downloads as the recording webhooks do.
            sources=with_downloads(downloading),
        )
        self.processor = Processor(
            self.inbox,
            acting.wrap(handlers),
            max_attempts=settings.max_attempts,
            heartbeat=self.heartbeat,
        )
        sweep_after = timedelta(seconds=settings.sweep_after_seconds)
        self.actors = actors.declare(
            self.broker,
            self.processor,
            self.runner,
            self.action_runner,
            queue_prefix=settings.queue_prefix,
            # A longer wait is parked on the job row, where the sweeper finds it once due.
            max_message_delay=min(sweep_after, timedelta(seconds=actors.DEFAULT_MAX_MESSAGE_DELAY)),
            download_runner=self.download_runner,
        )
        self.writer = InboxWriter(self.inbox, self.actors.enqueue)
        self.ingestors = {
            name: self._ingestor(name, app.secrets) for name, app in settings.apps.apps.items()
        }
        # The bare path answers 503 until the environment's app has a secret (Zoom retries).
        self.ingestor = self.ingestors.get(DEFAULT_APP) or self._ingestor(DEFAULT_APP, ())
        self.sweeper = Sweeper(
            self.inbox,
            self.enqueue,
            self.followups,
            self.schedule_followup,
            sweep_after=sweep_after,
            interval_seconds=settings.sweep_interval_seconds,
            lease=lease,
            actions=self.actions,
            schedule_action=self.schedule_action,
            downloads=self.downloads if self.download_runner is not None else None,
            schedule_download=self.schedule_download,
        )
        self.purger = self._purger(settings)
        accounts = [credentials.account_id for credentials in settings.apps.credentials()]
        self.backfiller = Backfiller(
            self.engine,
            self.followups,
            self.zoom.for_account,
            account_id=settings.zoom_account_id or (accounts[0] if len(accounts) == 1 else None),
            accounts=accounts,
            resources=resources,
        )
        self._workers: Workers | None = None
        self._download_workers: Workers | None = None
        self.listeners: Listeners | None = None
        self._gap_reconciler: GapReconciler | None = None

    def _ingestor(self, app: str, secrets: tuple[bytes, ...]) -> Ingestor:
        return Ingestor(
            secrets=secrets,
            inbox=self.inbox,
            enqueue=self.enqueue,
            timestamp_tolerance_seconds=self.settings.timestamp_tolerance_seconds,
            future_skew_seconds=self.settings.future_skew_seconds,
            app=app,
            writer=self.writer,
            commit_deadline=self.settings.commit_deadline_seconds,
        )

    def _purger(self, settings: Settings) -> Purger | None:
        """The scheduled purge, when an interval and some retention are configured."""
        ages = retention.Ages.configured(settings)
        if settings.purge_interval_seconds is None or not ages:
            return None
        return Purger(self.engine, ages, interval_seconds=settings.purge_interval_seconds)

    def start_sweeper(self) -> None:
        """The sweeper, and the scheduled purge with it when configured."""
        self.sweeper.start()
        if self.purger is not None:
            self.purger.start()

    @staticmethod
    def _write_engine(settings: Settings) -> Engine | None:
        """PostgreSQL: the deliveries' own small pool, with no pre-ping round trip per
        commit and a wait for a connection as short as the commit deadline. SQLite: the one
        connection everything shares (None)."""
        if parse_database_url(settings.database).get_backend_name() == "sqlite":
            return None
        return db.create(
            settings.database,
            pool_size=2,
            pre_ping=False,
            pool_timeout=settings.commit_deadline_seconds,
        )

    def _governor(self, settings: Settings) -> Governor:
        apps = settings.apps
        budgets = {account: budget_for(limits) for account, limits in apps.limits.items()}
        return Governor(
            self._rate_store(settings), budgets, default=budget_for(apps.default_limits)
        )

    def _rate_store(self, settings: Settings) -> StateStore:
        store = settings.rate_limit_store
        if store == "redis":
            assert settings.rate_limit_redis is not None  # Settings refuses redis without one
            return RedisStateStore.from_url(
                settings.rate_limit_redis, namespace=settings.queue_prefix
            )
        if store == "database":
            return DatabaseStateStore(self.engine)
        return MemoryStateStore()

    def _zoom_client(self, credentials: Credentials) -> ZoomClient:
        account = credentials.account_id

        def count(_endpoint: str, category: str, status: int | None) -> None:
            self.liveness.beat()  # a thread that talks to Zoom is not stuck
            # OAuth calls carry no category and do not count against the API's limits.
            if category and status is not None:
                self.usage.record(account, category)

        return ZoomClient(
            account_id=account,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            api_base_url=self.settings.zoom_api_base_url,
            oauth_url=self.settings.zoom_oauth_url,
            token_store=DatabaseTokenStore(self.engine),
            on_request=count,
            pacer=self.governor.pacer(account),
        )

    def web_app(self) -> Starlette:
        """The public app: webhooks and /healthz."""
        return create_app(
            self.ingestor,
            apps={name: i for name, i in self.ingestors.items() if name != DEFAULT_APP},
            max_body_bytes=self.settings.max_body_bytes,
        )

    def ops_server(
        self, port: int, host: str, *, serving: Callable[[], bool] | None = None
    ) -> ProbeServer:
        """The ops port of `serve` and `web`: /metrics (this process's counters and the
        tables' gauges), /readyz, and /livez (the in-process workers, where there are any).
        `serving` says whether the webhook port is open: the ops port opens first, and must
        not call the process ready before it (nor while it shuts down)."""
        checks = self.checks()
        if serving is not None:

            def webhooks() -> None:
                if not serving():
                    raise NotReady("the webhook port is not open (starting or stopping)")

            checks = {"http": webhooks, **checks}
        gauges = DatabaseCollector(
            self.engine, daily_cap=self.settings.zoom_daily_cap, ttl=self.settings.gauge_ttl_seconds
        )
        return ProbeServer(
            port,
            host=host,
            metrics=metrics.Scrape(gauges),
            probes={
                # A delivery whose enqueue fails is still stored and answered 200 (the sweeper
                # enqueues it later), so a broker outage must not take web pods out of rotation.
                "/readyz": Readiness(checks, advisory={"broker"}),
                "/livez": liveness(self.worker_problems),
            },
        )

    def checks(self) -> dict[str, Check]:
        """What /readyz asks: can this process store, enqueue and verify?"""

        def secret() -> None:
            if not self.settings.apps.any_secret:
                raise NotReady("ZOOM_WEBHOOK_SECRET_TOKEN is not set (nor any app's secret)")

        return {
            "database": self.inbox.ping,
            "broker": lambda: broker.ping(self.broker),
            "webhook_secret": secret,
        }

    def enqueue(self, inbox_id: int) -> None:
        self.actors.process_webhook.send(inbox_id)

    def schedule_followup(self, followup_id: int, at: datetime) -> None:
        self.actors.schedule_followup(followup_id, at)

    def schedule_action(self, action_id: int, at: datetime) -> None:
        self.actors.schedule_action(action_id, at)

    def schedule_download(self, job_id: int, at: datetime) -> None:
        self.actors.schedule_download(job_id, at)

    def start_listening(self) -> Listeners:
        """The WebSocket listener of every app with a subscription, and the reconciler of
        their disconnect gaps, running in this process until `close`."""
        settings = self.settings
        subscriptions = settings.apps.subscriptions()
        if not subscriptions:
            raise ValueError(
                "no app has a WebSocket subscription: set ZOOM_WEBSOCKET_SUBSCRIPTION_ID, or "
                "subscription_id for an app of ZOOMHOOKS_CONFIG"
            )
        lease = timedelta(seconds=settings.lease_seconds)
        leases = SubscriptionLeases(self.engine, lease=lease)
        gaps = Gaps(self.engine)
        timing = Timing(
            heartbeat_interval=settings.listen_heartbeat_seconds,
            heartbeat_timeout=settings.listen_heartbeat_timeout_seconds,
            reconnect_cap=settings.listen_reconnect_max_seconds,
            reconnect_base=min(1.0, settings.listen_reconnect_max_seconds),
            max_gap=settings.listen_max_gap_seconds,
        )
        store = inbox_store(self.inbox, self.enqueue)
        listeners = []
        for app in subscriptions:
            assert app.subscription_id is not None
            assert app.credentials is not None
            client = self.zoom.for_account(app.credentials.account_id, app=app.name)
            assert client is not None  # the app has credentials (checked at start)
            listeners.append(
                Listener(
                    Subscription(app.name, app.subscription_id, app.credentials.account_id),
                    base_url=settings.zoom_websocket_url,
                    tokens=client.access_token,
                    renew_margin=client.token_renew_margin,
                    store=store,
                    leases=leases,
                    gaps=gaps,
                    timing=timing,
                    reconcile_delay=timedelta(seconds=settings.followup_delay_seconds),
                )
            )
        self.listeners = Listeners(listeners)
        self._gap_reconciler = GapReconciler(
            gaps,
            self.backfiller,
            self.schedule_followup,
            self.listeners.held,
            lookback=DEFAULT_GAP_LOOKBACK,
            max_attempts=settings.max_attempts,
            interval_seconds=min(settings.sweep_interval_seconds, GAP_INTERVAL),
        )
        self.listeners.start()
        self._gap_reconciler.start()
        return self.listeners

    def start_workers(self) -> None:
        self.heartbeat.start()
        self._workers = Workers(
            self.broker, self.actors.queues, threads=self.settings.worker_threads
        )
        self._workers.start()
        queues = self.actors.download_queues
        if queues and self.settings.recording_downloads is not None:
            # Their own threads: a few long transfers never take the API follow-ups' threads.
            self._download_workers = Workers(
                self.broker, queues, threads=self.settings.recording_downloads.threads
            )
            self._download_workers.start()

    def worker_problems(self) -> list[str]:
        """Why this process's workers are wedged (a liveness probe fails on any); empty while
        they work, or before they are started."""
        return self.liveness.problems(
            self._workers.worker if self._workers else None,
            *([self._download_workers.worker] if self._download_workers else []),
        )

    def start_embedded(self) -> None:
        """Worker threads and the sweeper inside this process, after recovering from a crash.

        The embedded broker keeps its queue in memory, so anything unfinished in the inbox or
        among the follow-ups when this process starts was lost with the previous one: all of it
        is enqueued again.
        """
        released = (
            self.inbox.release_orphans()
            + self.followups.release_orphans()
            + self.actions.release_orphans()
            + self.downloads.release_orphans()
        )
        if self.settings.process_on_ingest:
            # The workers are in this process: new rows are processed as they are stored, in
            # the same transaction, and only what that could not settle goes through the queue.
            self.writer.process_fresh(self.processor)
        self.start_workers()
        recovered = self.sweeper.sweep(everything=True)
        if released or recovered:
            log.info(
                "recovered %s unfinished rows and jobs (%s inbox rows were mid-processing)",
                recovered,
                released,
            )
        self.start_sweeper()

    def close(self) -> None:
        if self._gap_reconciler is not None:
            self._gap_reconciler.stop()
        if self.listeners is not None:
            self.listeners.stop()
        self.writer.close()
        self.sweeper.stop()
        if self.purger is not None:
            self.purger.stop()
        if self._workers is not None:
            self._workers.stop()
        if self._download_workers is not None:
            self._download_workers.stop()
        if self.download_runner is not None:
            self.download_runner.close()
        self.heartbeat.stop()
        self.broker.close()
        self.zoom.close()
        self.governor.store.close()
        self.engine.dispose()
        self.inbox.write_engine.dispose()
