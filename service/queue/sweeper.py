"""Re-enqueues rows and jobs that no message carries any more: lost, never enqueued, held by a
worker that died (its lease ran out), or parked for a wait longer than a broker message."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from service.periodic import Periodic
from service.storage.actions import ActionJobs
from service.storage.followups import Followups
from service.storage.inbox import Inbox
from service.storage.jobs import JobTable
from service.storage.types import utcnow

log = logging.getLogger(__name__)


class Sweeper(Periodic):
    name = "zoomhooks-sweeper"

    def __init__(
        self,
        inbox: Inbox,
        enqueue: Callable[[int], None],
        followups: Followups,
        schedule_followup: Callable[[int, datetime], None],
        *,
        sweep_after: timedelta,
        interval_seconds: float,
        lease: timedelta | None = None,
        actions: ActionJobs | None = None,
        schedule_action: Callable[[int, datetime], None] | None = None,
        downloads: JobTable | None = None,
        schedule_download: Callable[[int, datetime], None] | None = None,
    ) -> None:
        """Rounds come every `interval_seconds`, and at least every third of `lease`, so a
        row held by a worker killed with -9 is taken back soon after its lease runs out."""
        self.inbox = inbox
        self.enqueue = enqueue
        self.followups = followups
        self.schedule_followup = schedule_followup
        self.actions = actions
        self.schedule_action = schedule_action
        # Every job table but the follow-ups' (swept first), with how to enqueue its jobs.
        self.job_tables: list[tuple[JobTable, Callable[[int, datetime], None]]] = []
        if actions is not None and schedule_action is not None:
            self.job_tables.append((actions, schedule_action))
        if downloads is not None and schedule_download is not None:
            self.job_tables.append((downloads, schedule_download))
        self.sweep_after = sweep_after
        if lease is not None:
            interval_seconds = min(interval_seconds, lease.total_seconds() / 3)
        super().__init__(interval_seconds)

    def sweep(self, *, everything: bool = False) -> int:
        """One round over the inbox and the follow-ups; returns how many were enqueued.

        `everything` takes every unfinished row and job (a lone process starting up).
        """
        now = utcnow()
        # Rows this round hands back get a later `updated_at`, so they are not taken twice.
        received_before = now if everything else now - self.sweep_after
        total = 0
        while ids := self.inbox.sweep(received_before=received_before):
            for row_id in ids:
                self.enqueue(row_id)
            total += len(ids)
        jobs = 0
        while due := self.followups.sweep(due_before=received_before, any_schedule=everything):
            for job_id, at in due:
                self.schedule_followup(job_id, at or now)
            jobs += len(due)
        for table, schedule in self.job_tables:
            while due := table.sweep(due_before=received_before, any_schedule=everything):
                for job_id, at in due:
                    schedule(job_id, at or now)
                jobs += len(due)
        if total or jobs:
            log.info(
                "sweeper re-enqueued %s inbox rows and %s jobs (follow-ups, actions, downloads)",
                total,
                jobs,
            )
        return total + jobs

    def tick(self) -> int:
        return self.sweep()
