"""Backlog gauges for Prometheus, read from the tables at scrape time: the tables are the truth."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from service.storage.models import actions, followups, webhook_events
from service.storage.usage import UsageRecorder, today

#: How long one reading of the tables serves scrapes (seconds). Every scraper (several
#: Prometheus replicas, a curious operator) would otherwise cost five GROUP BY queries that
#: queue with ingest for SQLite's one connection.
DEFAULT_GAUGE_TTL = 15.0


class DatabaseCollector(Collector):
    """Backlog gauges read from the tables at scrape time: the tables are the truth.

    A reading is kept for `ttl` seconds, so scrapes cost the database at most one reading
    per `ttl`, however many scrapers there are.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        daily_cap: int | None = None,
        ttl: float = DEFAULT_GAUGE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.daily_cap = daily_cap
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, list[GaugeMetricFamily]] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            now = self.clock()
            if self._cached is None or now - self._cached[0] >= self.ttl:
                self._cached = (now, list(self._read()))
            families = self._cached[1]
        yield from families

    def _read(self) -> Iterator[GaugeMetricFamily]:
        inbox = GaugeMetricFamily(
            "zoomhooks_inbox_events", "Inbox rows by status.", labels=["status"]
        )
        oldest = GaugeMetricFamily(
            "zoomhooks_inbox_oldest_unfinished_age_seconds",
            "Age of the oldest received or processing inbox row (0 when none).",
        )
        jobs = GaugeMetricFamily(
            "zoomhooks_followups_jobs",
            "Follow-up jobs by resource and status.",
            labels=["resource", "status"],
        )
        acts = GaugeMetricFamily(
            "zoomhooks_actions_jobs",
            "Write-side actions by kind and status (the `actions` table).",
            labels=["kind", "status"],
        )
        overdue = GaugeMetricFamily(
            "zoomhooks_followups_oldest_due_age_seconds",
            "How long the most overdue pending follow-up has been due (0 when none).",
        )
        now = datetime.now(UTC)
        w, f = webhook_events.c, followups.c
        with self.engine.connect() as conn:
            for status, count in conn.execute(select(w.status, func.count()).group_by(w.status)):
                inbox.add_metric([status], count)
            first = conn.execute(
                select(func.min(w.received_at)).where(w.status.in_(("received", "processing")))
            ).scalar()
            for resource, status, count in conn.execute(
                select(f.resource, f.status, func.count()).group_by(f.resource, f.status)
            ):
                jobs.add_metric([resource, status], count)
            a = actions.c
            for kind, status, count in conn.execute(
                select(a.kind, a.status, func.count()).group_by(a.kind, a.status)
            ):
                acts.add_metric([kind, status], count)
            due = conn.execute(
                select(func.min(f.next_attempt_at)).where(
                    f.status == "pending", f.next_attempt_at <= now
                )
            ).scalar()
        oldest.add_metric([], _age(first, now))
        overdue.add_metric([], _age(due, now))
        yield from (inbox, oldest, jobs, overdue, acts)
        calls = GaugeMetricFamily(
            "zoomhooks_zoom_daily_calls",
            "Zoom API calls made today (UTC), by account and rate-limit category.",
            labels=["account_id", "category"],
        )
        for (account, category), count in UsageRecorder(self.engine).on(today()).items():
            calls.add_metric([account, category], count)
        yield calls
        if self.daily_cap is not None:
            cap = GaugeMetricFamily(
                "zoomhooks_zoom_daily_cap",
                "The account's daily cap on Heavy + Resource-intensive calls "
                "(ZOOMHOOKS_ZOOM_DAILY_CAP).",
            )
            cap.add_metric([], self.daily_cap)
            yield cap


def _age(moment: datetime | str | None, now: datetime) -> float:
    if moment is None:
        return 0.0
    if isinstance(moment, str):  # SQLite returns aggregates as text, untyped
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (now - moment).total_seconds())
