"""Running one follow-up job: fetch a resource of an ended instance from Zoom and store it.

The job row decides everything: a duplicate message finds it claimed or finished and does
nothing; a failure puts it back to `pending` with the time of its next attempt, which the
caller turns into a delayed message. Zoom's error taxonomy (`service.zoom.errors`) maps onto
the job's state here.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from service import metrics
from service.apps import NotBound
from service.processing.sources import SOURCES, MissingNumber, Source, Target
from service.storage import registrants
from service.storage.errors import describe
from service.storage.followups import Followup, Followups
from service.storage.heartbeat import Heartbeat
from service.storage.lease import LeaseLost, new_owner
from service.storage.types import utcnow
from service.zoom import (
    Endpoint,
    Outcome,
    RateLimited,
    Throttled,
    ZoomAPIError,
    ZoomClient,
    backoff_delay,
)
from service.zoom.pagination import ListingRestarted

log = logging.getLogger(__name__)

#: Longest pause between re-fetches of data Zoom says is not ready (seconds).
DEFAULT_NOT_READY_CAP = 4 * 60 * 60
#: First and longest pause after a transient failure (seconds).
DEFAULT_TRANSIENT_BASE = 30
DEFAULT_TRANSIENT_CAP = 30 * 60

Records = list[dict[str, Any]]


def fetch(
    client: ZoomClient,
    endpoint: Endpoint,
    path_id: int | str,
    on_restart: Callable[[ListingRestarted], None],
    query: Mapping[str, str] | None = None,
) -> Iterator[tuple[Records, str | None]]:
    """(records, Zoom tracking id) page by page; a single page for unpaginated endpoints, whose
    one record is the body itself when the endpoint returns a single object."""
    query = dict(query) if query else None
    if endpoint.paginated:
        for page in client.pages(endpoint, path_id, query=query, on_restart=on_restart):
            yield page.records, page.tracking_id
    else:
        response = client.get(endpoint, path_id, query=query)
        records = response.records if endpoint.records_key else [response.body]
        yield records, response.tracking_id


@dataclass(frozen=True, slots=True)
class Later:
    """Run the job again at `at` (a fresh message: a wait is not a failure)."""

    at: datetime


class FollowupRunner:
    def __init__(
        self,
        jobs: Followups,
        client_for: Callable[[str | None, str | None], ZoomClient | None],
        *,
        not_ready_retry: timedelta,
        not_ready_limit: timedelta,
        max_attempts: int,
        rng: random.Random | None = None,
        heartbeat: Heartbeat | None = None,
        sources: Mapping[tuple[str, str], Source] = SOURCES,
    ) -> None:
        self.jobs = jobs
        #: What each (kind, resource) fetches (`sources.with_downloads` when recordings are
        #: downloaded).
        self.sources = sources
        self.client_for = client_for
        self.not_ready_retry = not_ready_retry
        self.not_ready_limit = not_ready_limit
        self.max_attempts = max_attempts
        self.rng = rng or random.Random()
        self.heartbeat = heartbeat or Heartbeat(jobs.engine, [jobs.leases])

    def run(self, followup_id: int) -> Later | None:
        """Run the job if it is due and free. Returns when to run it again, if ever."""
        owner = new_owner()
        with self.heartbeat.holding(self.jobs.leases, owner):
            job = self.jobs.claim(followup_id, owner)
            if job is None:
                return None
            try:
                return self._run(job)
            except LeaseLost:
                # Another worker took the job over (this one stalled past its lease): the page
                # in hand rolled back, and the new holder's result stands.
                log.warning("followup %s: lease lost, leaving it to its new holder", job.id)
                return None

    def _run(self, job: Followup) -> Later | None:
        try:
            client = self.client_for(job.account_id, job.app)
        except NotBound as exc:
            # Never spend another account's credentials or budget on an app's word.
            metrics.FOLLOWUPS_REFUSED.labels(job.app or "").inc()
            self._end(job, "failed", str(exc), None)
            return None
        if client is None:
            self._end(
                job,
                "failed",
                "Zoom API credentials are not configured: set ZOOM_ACCOUNT_ID, "
                "ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET, then retry this follow-up",
                None,
            )
            return None
        try:
            stored = self._fetch_and_store(job, client)
        except RateLimited as exc:
            at = utcnow() + timedelta(seconds=exc.retry_after_seconds)
            self.jobs.reschedule(
                job, at=at, error=str(exc), tracking_id=exc.tracking_id, count_attempt=False
            )
            waited = "throttled" if isinstance(exc, Throttled) else "rate_limited"
            metrics.FOLLOWUPS.labels(job.resource, waited).inc()
            log.info(
                "followup %s %s (%s), again at %s",
                job.id,
                waited.replace("_", " "),
                exc.category,
                at,
                extra=_context(job, exc.tracking_id),
            )
            return Later(at)
        except ZoomAPIError as exc:
            return self._zoom_error(job, exc)
        except MissingNumber as exc:
            # Not Zoom's failure, and nothing to retry: the operator's backfill names it.
            self._end(job, "not_applicable", str(exc), None)
            return None
        except SQLAlchemyError as exc:
            return self._retry(job, f"database: {describe(exc)}", None)
        metrics.FOLLOWUPS.labels(job.resource, "done").inc()
        log.info(
            "followup %s %s/%s stored %s rows",
            job.id,
            job.instance_uuid,
            job.resource,
            stored,
            extra=_context(job),
        )
        return None

    def _fetch_and_store(self, job: Followup, client: ZoomClient) -> int:
        source = self.sources[(job.kind, job.resource)]
        zoom_id = None
        if source.needs_number:
            with self.jobs.engine.connect() as conn:
                zoom_id = registrants.instance_number(conn, job.instance_uuid)
        target = Target(
            job.instance_uuid,
            zoom_id,
            job.id,
            job.inbox_id,
            utcnow(),
            account_id=job.account_id,
            app=job.app,
        )
        stored = 0
        tracking: str | None = None
        for call in source.calls(target):
            stored_before = stored

            def restarted(event: ListingRestarted, before: int = stored_before) -> None:
                nonlocal stored
                log.info(
                    "followup %s: %s page token expired, listing again", job.id, event.endpoint
                )
                stored = before  # the listing starts over; its rows upsert onto those stored

            pages = fetch(client, source.endpoint, call.path_id, restarted, call.query)
            try:
                for page, page_tracking in pages:
                    tracking = page_tracking
                    target.after_commit.clear()
                    with self.jobs.engine.begin() as conn:
                        self.jobs.progress(conn, job)  # LeaseLost rolls this page back
                        stored += source.store(conn, page, call, target)
                    for committed in target.after_commit:
                        committed()
            except ZoomAPIError as exc:
                if not source.absent(exc):
                    raise
                # Nothing to fetch (an instance without a recording): done, with no rows.
                tracking = exc.tracking_id
                log.info(
                    "followup %s: Zoom has no %s for %s (%s)",
                    job.id,
                    job.resource,
                    job.instance_uuid,
                    exc.zoom_code or exc.status,
                    extra=_context(job, tracking),
                )
        with self.jobs.engine.begin() as conn:
            if not self.jobs.done(conn, job, rows_stored=stored, tracking_id=tracking):
                raise LeaseLost(f"followup {job.id}")
        return stored

    def _zoom_error(self, job: Followup, exc: ZoomAPIError) -> Later | None:
        if exc.outcome is Outcome.NOT_READY:
            waited = utcnow() - job.created_at
            if waited >= self.not_ready_limit:
                self._end(
                    job, "failed", f"Zoom still has no data after {waited}: {exc}", exc.tracking_id
                )
                return None
            step = self.not_ready_retry.total_seconds() * (1 << min(job.attempts - 1, 20))
            at = utcnow() + timedelta(seconds=min(step, DEFAULT_NOT_READY_CAP))
            self.jobs.reschedule(job, at=at, error=str(exc), tracking_id=exc.tracking_id)
            metrics.FOLLOWUPS.labels(job.resource, "not_ready").inc()
            log.info(
                "followup %s: not ready at Zoom yet, again at %s",
                job.id,
                at,
                extra=_context(job, exc.tracking_id),
            )
            return Later(at)
        if exc.outcome is Outcome.NOT_APPLICABLE:
            self._end(job, "not_applicable", str(exc), exc.tracking_id)
            return None
        if exc.outcome in (Outcome.PERMISSION, Outcome.TOO_OLD, Outcome.FATAL):
            self._end(job, "failed", str(exc), exc.tracking_id)
            return None
        return self._retry(job, str(exc), exc.tracking_id)

    def _retry(self, job: Followup, error: str, tracking: str | None) -> Later | None:
        if job.attempts >= self.max_attempts:
            self._end(job, "failed", f"gave up after {job.attempts} attempts: {error}", tracking)
            return None
        delay = backoff_delay(job.attempts, DEFAULT_TRANSIENT_BASE, DEFAULT_TRANSIENT_CAP, self.rng)
        at = utcnow() + timedelta(seconds=delay)
        self.jobs.reschedule(job, at=at, error=error, tracking_id=tracking)
        metrics.FOLLOWUPS.labels(job.resource, "retry").inc()
        log.warning(
            "followup %s attempt %s failed (%s); again at %s",
            job.id,
            job.attempts,
            error,
            at,
            extra=_context(job, tracking),
        )
        return Later(at)

    def _end(self, job: Followup, status: str, error: str, tracking: str | None) -> None:
        self.jobs.end(job, status=status, error=error, tracking_id=tracking)
        metrics.FOLLOWUPS.labels(job.resource, status).inc()
        log.warning(
            "followup %s %s/%s %s: %s",
            job.id,
            job.instance_uuid,
            job.resource,
            status,
            error,
            extra=_context(job, tracking),
        )


def _context(job: Followup, tracking: str | None = None) -> dict[str, object]:
    """The fields a job's log line carries (see service.logs)."""
    return {
        "followup_id": job.id,
        "instance_uuid": job.instance_uuid,
        "resource": job.resource,
        "inbox_id": job.inbox_id,
        "zm_trackingid": tracking,
    }
