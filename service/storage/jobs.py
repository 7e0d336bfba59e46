"""What follow-up jobs and action jobs share: a table of rows that a worker claims by lease,
that wait by `next_attempt_at`, and that a sweeper hands back when no message carries them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, Table, true
from sqlalchemy.dialects import postgresql, sqlite

from service.storage.inbox import DEFAULT_SWEEP_BATCH
from service.storage.lease import DEFAULT_LEASE_SECONDS, LeasedTable
from service.storage.types import utcnow


class JobTable:
    """Rows free as `pending` (once due), held as `running`."""

    def __init__(
        self,
        engine: Engine,
        table: Table,
        *,
        lease: timedelta = timedelta(seconds=DEFAULT_LEASE_SECONDS),
    ) -> None:
        self.engine = engine
        self.table = table
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        c = table.c
        self.leases = LeasedTable(
            table,
            free="pending",
            held="running",
            lease=lease,
            due=lambda now: c.next_attempt_at.is_(None) | (c.next_attempt_at <= now),
        )

    def sweep(
        self,
        *,
        due_before: datetime,
        any_schedule: bool = False,
        limit: int = DEFAULT_SWEEP_BATCH,
    ) -> list[tuple[int, datetime | None]]:
        """Jobs no message carries: due `pending` ones untouched since `due_before`, and
        `running` ones whose lease ran out.

        A wait longer than a broker may hold a delayed message is parked on the row with no
        message at all, so it is found here once due. `any_schedule` also takes pending jobs
        not due yet (a lone process starting up lost their delayed messages). Returns
        (id, when it is due).
        """
        c = self.table.c
        now = utcnow()
        scheduled = true() if any_schedule else self.leases.due(now)
        stale = (c.updated_at < due_before) & scheduled
        with self.engine.begin() as conn:
            taken = self.leases.reap(
                conn, now=now, limit=limit, stale=stale, returning=(c.next_attempt_at,)
            )
        return [(row.id, row.next_attempt_at) for row in taken]

    def release_orphans(self) -> int:
        """Hand `running` jobs back to `pending`: for a single process restarting."""
        with self.engine.begin() as conn:
            return self.leases.release_all(conn)
