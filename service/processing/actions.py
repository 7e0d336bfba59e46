"""Running one write-side action: send the request its audit row holds, record Zoom's answer.

The row decides everything, as for follow-ups: a duplicate message finds it claimed or
finished; a dry run records that nothing was sent; 429 and transient failures go back to
`pending` with the time of the next attempt; a refusal ends it `failed` with the fix an
operator must make (service.zoom.errors.ACTION_FIXES), naming the users involved.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from service import actions as rules
from service import metrics
from service.apps import Apps, NotBound
from service.processing.followup import DEFAULT_TRANSIENT_BASE, DEFAULT_TRANSIENT_CAP, Later
from service.processing.handlers import Context, Handler
from service.processing.handlers import Outcome as HandlerOutcome
from service.storage.actions import ActionJob, ActionJobs, Answer, NewAction
from service.storage.errors import describe
from service.storage.heartbeat import Heartbeat
from service.storage.lease import new_owner
from service.storage.types import utcnow
from service.zoom import Endpoint, Outcome, RateLimited, ZoomAPIError, ZoomClient, backoff_delay
from service.zoom import endpoints as ep
from service.zoom.errors import action_fix

log = logging.getLogger(__name__)

ENDPOINTS: dict[str, Endpoint] = {
    rules.Kind.REGISTRANT_APPROVE: ep.UPDATE_WEBINAR_REGISTRANT_STATUS,
    rules.Kind.REGISTRANT_DENY: ep.UPDATE_WEBINAR_REGISTRANT_STATUS,
    rules.Kind.MEETING_SCHEDULE_FOR: ep.UPDATE_MEETING,
}
_RETRIED = (Outcome.TRANSIENT, Outcome.TOKEN_EXPIRED, Outcome.NOT_READY)


class ActionRunner:
    def __init__(
        self,
        jobs: ActionJobs,
        client_for: Callable[[str | None, str | None], ZoomClient | None],
        *,
        max_attempts: int,
        rng: random.Random | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.jobs = jobs
        self.client_for = client_for
        self.max_attempts = max_attempts
        self.rng = rng or random.Random()
        self.heartbeat = heartbeat or Heartbeat(jobs.engine, [jobs.leases])

    def run(self, action_id: int) -> Later | None:
        """Run the action if it is due and free. Returns when to run it again, if ever."""
        owner = new_owner()
        with self.heartbeat.holding(self.jobs.leases, owner):
            job = self.jobs.claim(action_id, owner)
            if job is None:
                return None
            return self._run(job)

    def _run(self, job: ActionJob) -> Later | None:
        if job.dry_run:
            self._end(job, "dry_run", Answer(message="dry run: not sent to Zoom"))
            return None
        try:
            client = self.client_for(job.account_id, job.app)
        except NotBound as exc:
            self._end(job, "failed", Answer(message=str(exc)))
            return None
        if client is None:
            self._end(
                job,
                "failed",
                Answer(
                    message=f"app {job.app!r} has no Zoom API credentials: set client_id "
                    "and client_secret in its [apps] section, then `zoomhooks actions run`"
                ),
            )
            return None
        endpoint = ENDPOINTS[job.kind]
        try:
            response = client.write(endpoint, _resource_id(job), job.method, job.body)
        except RateLimited as exc:
            at = utcnow() + timedelta(seconds=exc.retry_after_seconds)
            answer = Answer(429, exc.zoom_code, exc.zoom_message, exc.tracking_id, str(exc))
            self.jobs.reschedule(job, at=at, answer=answer, count=False)
            metrics.ACTIONS.labels(kind=job.kind, outcome="rate_limited").inc()
            return Later(at)
        except ZoomAPIError as exc:
            return self._refused(job, endpoint, exc)
        except SQLAlchemyError as exc:
            return self._retry(job, Answer(message=f"database: {describe(exc)}"))
        self._end(job, "done", Answer(response.status, tracking_id=response.tracking_id))
        return None

    def _refused(self, job: ActionJob, endpoint: Endpoint, exc: ZoomAPIError) -> Later | None:
        fix = None
        if exc.outcome is Outcome.PERMISSION:
            fix = action_fix(
                exc.zoom_code,
                exc.zoom_message or "",
                actor=_actor(job),
                target=_target(job),
                endpoint=endpoint,
            )
        answer = Answer(
            exc.status, exc.zoom_code, exc.zoom_message, exc.tracking_id, fix or str(exc)
        )
        if exc.outcome in _RETRIED:
            return self._retry(job, answer)
        refused = exc.outcome is Outcome.PERMISSION
        self._end(job, "failed", answer, outcome="refused" if refused else "failed")
        return None

    def _retry(self, job: ActionJob, answer: Answer) -> Later | None:
        if job.attempts >= self.max_attempts:
            self._end(job, "failed", answer)
            return None
        delay = backoff_delay(job.attempts, DEFAULT_TRANSIENT_BASE, DEFAULT_TRANSIENT_CAP, self.rng)
        at = utcnow() + timedelta(seconds=delay)
        self.jobs.reschedule(job, at=at, answer=answer, count=True)
        metrics.ACTIONS.labels(kind=job.kind, outcome="retry").inc()
        log.warning(
            "action %s attempt %s failed (%s); again at %s",
            job.id,
            job.attempts,
            answer.fix or answer.message,
            at,
        )
        return Later(at)

    def _end(
        self, job: ActionJob, status: str, answer: Answer, *, outcome: str | None = None
    ) -> None:
        if not self.jobs.finish(job, status, answer):
            log.warning("action %s: lease lost, leaving it to its new holder", job.id)
            return
        metrics.ACTIONS.labels(kind=job.kind, outcome=outcome or status).inc()
        level = logging.WARNING if status == "failed" else logging.INFO
        log.log(
            level,
            "action %s %s %s: %s",
            job.id,
            job.kind,
            status,
            answer.fix or answer.message or answer.status,
        )


def _resource_id(job: ActionJob) -> str:
    # The path was built from a numeric id by service.actions.plan: /webinars/N/... or /meetings/N.
    return job.path.split("/")[2]


def _target(job: ActionJob) -> str:
    if job.kind == rules.Kind.MEETING_SCHEDULE_FOR:
        return str(job.body.get("schedule_for", "the new host"))
    return job.target


def _actor(job: ActionJob) -> str:
    if job.kind == rules.Kind.MEETING_SCHEDULE_FOR:
        host = rules.host_in_target(job.target)
        return f"the meeting's host {host}" if host else "the meeting's host"
    return f"the user who created app {job.app!r}'s Server-to-Server OAuth app"


#: Enqueue an action to run no earlier than the given time.
ScheduleAction = Callable[[int, datetime], None]


class ActionHandlers:
    """Records the actions an event asks for under its app's rules, in the handler's
    transaction, and enqueues them once it commits. Runs beside the live handlers."""

    def __init__(self, apps: Apps, jobs: ActionJobs, schedule: ScheduleAction) -> None:
        self.apps = apps
        self.jobs = jobs
        self.schedule = schedule

    @property
    def triggers(self) -> frozenset[str]:
        found: set[str] = set()
        for app in self.apps.apps.values():
            if app.actions is not None:
                found |= app.actions.triggers
        return frozenset(found)

    def wrap(self, handlers: Mapping[str, Handler]) -> dict[str, Handler]:
        """`handlers` with the action triggers added (after the live handler, if any)."""
        table = dict(handlers)
        for name in self.triggers:
            table[name] = functools.partial(self._handle, handlers.get(name))
        return table

    def _handle(self, live: Handler | None, ctx: Context) -> HandlerOutcome:
        outcome: HandlerOutcome = live(ctx) if live is not None else "ignored"
        app = self.apps.get(ctx.app) if ctx.app is not None else None
        if app is None or app.actions is None:
            return outcome
        planned = rules.plan(app.actions, ctx.event.name, ctx.event.payload)
        created = self.jobs.create(
            ctx.conn,
            [NewAction(p.kind, p.target, p.method, p.path, p.body, p.reason) for p in planned],
            app=app.name,
            account_id=ctx.event.account_id,
            inbox_id=ctx.inbox_id,
            dry_run=app.actions.dry_run,
            requested_by=f"rule:{app.name}",
        )
        now = utcnow()
        for action_id in created:
            ctx.after_commit.append(functools.partial(self.schedule, action_id, now))
        return "done" if planned else outcome
