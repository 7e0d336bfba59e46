"""Follow-up jobs: one row per instance and resource, with its own state.

Like the inbox, the row is the source of truth and every change is a compare-and-set, so a
duplicate message, a second worker or a sweeper racing a worker cannot run one job twice.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, func, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from service.storage.inbox import DEFAULT_SWEEP_BATCH, MAX_ERROR_LENGTH
from service.storage.models import followups
from service.storage.types import utcnow


def worker_identity() -> str:
    """host:pid of the process running a job, so ops can tell whose it is (read at each claim:
    a forked worker has its own pid)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Followup:
    id: int
    instance_uuid: str
    kind: str
    resource: str
    account_id: str | None
    attempts: int
    inbox_id: int | None
    created_at: datetime


class Followups:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._heartbeat = (
            update(followups)
            .where(followups.c.id == bindparam("job"), followups.c.status == "running")
            .values(updated_at=bindparam("now"))
        )

    def create(
        self,
        conn: Connection,
        *,
        instance_uuid: str,
        kind: str,
        resources: Sequence[str],
        account_id: str | None,
        inbox_id: int | None,
        first_attempt_at: datetime,
    ) -> list[tuple[int, datetime]]:
        """Create the jobs not created yet (inside the handler's transaction).

        Returns (id, first attempt) of each new job; a job that exists keeps its state.
        """
        now = utcnow()
        created: list[tuple[int, datetime]] = []
        for resource in resources:
            new_id = conn.execute(
                self._insert(followups)
                .values(
                    instance_uuid=instance_uuid,
                    kind=kind,
                    resource=resource,
                    account_id=account_id,
                    status="pending",
                    next_attempt_at=first_attempt_at,
                    inbox_id=inbox_id,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["instance_uuid", "resource"])
                .returning(followups.c.id)
            ).scalar_one_or_none()
            if new_id is not None:
                created.append((new_id, first_attempt_at))
        return created

    def claim(self, followup_id: int, *, running_timeout: timedelta) -> Followup | None:
        """Take a due `pending` job (or an orphaned `running` one); None if not takeable now."""
        now = utcnow()
        c = followups.c
        due = (c.status == "pending") & (c.next_attempt_at.is_(None) | (c.next_attempt_at <= now))
        orphaned = (c.status == "running") & (c.updated_at < now - running_timeout)
        with self.engine.begin() as conn:
            row = conn.execute(
                update(followups)
                .where(c.id == followup_id, due | orphaned)
                .values(
                    status="running",
                    attempts=c.attempts + 1,
                    updated_at=now,
                    claimed_by=worker_identity(),
                )
                .returning(
                    c.id,
                    c.instance_uuid,
                    c.kind,
                    c.resource,
                    c.account_id,
                    c.attempts,
                    c.inbox_id,
                    c.created_at,
                )
            ).one_or_none()
        if row is None:
            return None
        return Followup(**row._mapping)

    def _finish(self, conn: Connection, followup_id: int, **values: object) -> bool:
        return bool(
            conn.execute(
                update(followups)
                .where(followups.c.id == followup_id, followups.c.status == "running")
                .values(updated_at=utcnow(), **values)
            ).rowcount
        )

    def done(
        self, conn: Connection, followup_id: int, *, rows_stored: int, tracking_id: str | None
    ) -> bool:
        """Mark done in the transaction that stored the last page."""
        now = utcnow()
        return self._finish(
            conn,
            followup_id,
            status="done",
            rows_stored=rows_stored,
            zm_trackingid=tracking_id,
            fetched_at=now,
            next_attempt_at=None,
            last_error=None,
        )

    def reschedule(
        self,
        followup_id: int,
        *,
        at: datetime,
        error: str,
        tracking_id: str | None,
        count_attempt: bool = True,
    ) -> bool:
        """Back to `pending` until `at`. A wait Zoom imposed (429) does not count as an attempt."""
        with self.engine.begin() as conn:
            extra = {} if count_attempt else {"attempts": followups.c.attempts - 1}
            return self._finish(
                conn,
                followup_id,
                status="pending",
                next_attempt_at=at,
                last_error=error[:MAX_ERROR_LENGTH],
                zm_trackingid=tracking_id,
                **extra,
            )

    def end(
        self, followup_id: int, *, status: str, error: str | None, tracking_id: str | None
    ) -> bool:
        """`failed` or `not_applicable`, for good."""
        with self.engine.begin() as conn:
            return self._finish(
                conn,
                followup_id,
                status=status,
                last_error=error[:MAX_ERROR_LENGTH] if error else None,
                zm_trackingid=tracking_id,
                next_attempt_at=None,
                fetched_at=utcnow(),
            )

    def heartbeat(self, conn: Connection, followup_id: int) -> None:
        """A long listing shows it is alive, so it is not taken for orphaned."""
        conn.execute(self._heartbeat, {"job": followup_id, "now": utcnow()})

    def sweep(
        self,
        *,
        due_before: datetime,
        running_before: datetime,
        any_schedule: bool = False,
        limit: int = DEFAULT_SWEEP_BATCH,
    ) -> list[tuple[int, datetime | None]]:
        """Jobs due for a while that no message seems to carry, and orphaned running ones.

        `any_schedule` also takes pending jobs that are not due yet (a lone process starting
        up lost their delayed messages). Each job is taken by an UPDATE that re-checks it is
        still stale and makes it fresh (a running one is handed back to `pending`), so two
        sweepers never both take it. Returns (id, when it is due).
        """
        c = followups.c
        now = utcnow()
        scheduled = c.next_attempt_at.is_(None) | (c.next_attempt_at < due_before)
        stale = (
            (c.status == "pending")
            & (c.updated_at < due_before)
            & (true() if any_schedule else scheduled)
        ) | ((c.status == "running") & (c.updated_at < running_before))
        taken: list[tuple[int, datetime | None]] = []
        with self.engine.begin() as conn:
            # SKIP LOCKED (PostgreSQL): a second sweeper passes over the rows the first is
            # taking instead of queueing behind it; the re-checking UPDATE settles the rest.
            candidates = conn.execute(
                select(c.id, c.next_attempt_at)
                .where(stale)
                .order_by(c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in candidates:
                won = conn.execute(
                    update(followups)
                    .where(c.id == row.id, stale)
                    .values(status="pending", updated_at=now)
                ).rowcount
                if won:
                    taken.append((row.id, row.next_attempt_at))
        return taken

    def counts(self) -> dict[tuple[str, str], int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(followups.c.resource, followups.c.status, func.count()).group_by(
                    followups.c.resource, followups.c.status
                )
            ).all()
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}
