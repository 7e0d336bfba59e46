"""Reconciling the windows a WebSocket subscription had no open socket.

Zoom replays nothing sent while no socket was open, so a `webinar.ended` may never have
arrived. For each recorded gap, the reconciler asks Zoom for the past instances of every
number this database has seen for the gap's account, keeps those that started between
`lookback` before the gap and its end and have no follow-ups, and creates their follow-ups
as `zoomhooks reconcile` would. Live events lost in the gap (joins, leaves) come back
through the participants report those follow-ups fetch.

Only the listener process holding a subscription reconciles its gaps, so one gap is not
reconciled twice at once; a retry, or a takeover in between, repeats nothing (follow-ups
are created once per instance and resource).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from service import metrics
from service.periodic import Periodic
from service.processing.backfill import Backfiller
from service.storage.gaps import Gap, Gaps
from service.storage.types import utcnow

log = logging.getLogger(__name__)

#: How often the listener looks for gaps due (seconds).
DEFAULT_INTERVAL = 5.0
#: First wait after a failed reconcile; it doubles per attempt, up to the cap (seconds).
DEFAULT_RETRY_BASE = 60.0
DEFAULT_RETRY_CAP = 3600.0


class GapReconciler(Periodic):
    name = "zoomhooks-gap-reconciler"

    def __init__(
        self,
        gaps: Gaps,
        backfiller: Backfiller,
        schedule_followup: Callable[[int, datetime], None],
        held: Callable[[], Collection[str]],
        *,
        lookback: timedelta,
        max_attempts: int,
        interval_seconds: float = DEFAULT_INTERVAL,
        retry_base: float = DEFAULT_RETRY_BASE,
    ) -> None:
        super().__init__(interval_seconds, first_after_seconds=0)
        self.gaps = gaps
        self.backfiller = backfiller
        self.schedule_followup = schedule_followup
        #: The subscriptions this process holds now: only their gaps are its to reconcile.
        self.held = held
        self.lookback = lookback
        self.max_attempts = max_attempts
        self.retry_base = retry_base

    def tick(self) -> int:
        """Reconcile every due gap of the held subscriptions; how many were done."""
        done = 0
        for gap in self.gaps.due(self.held()):
            done += self.reconcile(gap)
        return done

    def reconcile(self, gap: Gap) -> bool:
        checks = self.backfiller.checks(gap.account_id)
        found = self.backfiller.reconcile(
            checks, since=gap.gap_from - self.lookback, until=gap.gap_to
        )
        now = utcnow()
        for instance in found.gaps:
            for job_id in self.backfiller.create(instance):
                self.schedule_followup(job_id, now)
        if not found.failed:
            self.gaps.done(gap.id, backfilled=len(found.gaps))
            metrics.GAP_RECONCILES.labels(outcome="done").inc()
            log.info(
                "gap %s of app %s (%s to %s): %s instances without follow-ups, backfilled",
                gap.id,
                gap.app,
                gap.gap_from.isoformat(timespec="seconds"),
                gap.gap_to.isoformat(timespec="seconds"),
                len(found.gaps),
            )
            return True
        error = "; ".join(f"{c.kind} {c.zoom_id}: {reason}" for c, reason in found.failed)
        attempt = gap.attempts + 1
        final = attempt >= self.max_attempts
        at = None if final else now + timedelta(seconds=self._delay(attempt))
        self.gaps.retry(gap.id, error, at=at, backfilled=len(found.gaps))
        metrics.GAP_RECONCILES.labels(outcome="failed" if final else "retry").inc()
        log.warning(
            "gap %s of app %s: %s of %s numbers could not be checked (%s); %s",
            gap.id,
            gap.app,
            len(found.failed),
            len(checks),
            error,
            "given up: run `zoomhooks reconcile --since` for it"
            if final
            else f"again at {at:%H:%M:%S}",
        )
        return False

    def _delay(self, attempt: int) -> float:
        return min(DEFAULT_RETRY_CAP, self.retry_base * 2.0 ** (attempt - 1))
