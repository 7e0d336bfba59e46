"""Leases: who holds an unfinished row, and until when.

The inbox and the follow-up jobs share one state machine. A row is *free* (`received`,
`pending`) or *held* (`processing`, `running`). A claim makes it held by a fresh owner token
(`lease_owner`) until `lease_until`; every later write of the attempt is guarded by that
owner, so a worker whose lease was taken over (it stalled, or the lease ran out while it was
cut off from the database) finds its write matching nothing and rolls its attempt back rather
than overwrite the new holder's result. One heartbeat per process renews all the leases its
threads hold in one UPDATE per table; a process killed with -9 stops renewing, and its rows
are free again as soon as their lease runs out, instead of after a long orphan timeout.
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    bindparam,
    select,
    true,
    update,
)

from service.storage.types import utcnow

#: How long a claim holds a row without renewal (seconds). A worker killed with -9 holds its
#: rows this long at most; the heartbeat renews live ones every third of it.
DEFAULT_LEASE_SECONDS = 30
#: Longest owner token (characters), the width of the `lease_owner` columns.
OWNER_LENGTH = 100

_claims = itertools.count(1)
_process_nonce = secrets.token_hex(3)


class LeaseLost(Exception):
    """The row is no longer held by this claim: the attempt must roll back and stop."""


def new_owner() -> str:
    """A token for one claim: host:pid, a per-process nonce (pids recycle), a sequence number.

    Read at each claim, so a forked worker has its own pid.
    """
    prefix = f"{socket.gethostname()[:60]}:{os.getpid()}:{_process_nonce}"
    return f"{prefix}/{next(_claims)}"[:OWNER_LENGTH]


class LeasedTable:
    """The lease statements of one table whose rows move free → held → finished.

    `due(now)` narrows which free rows may be claimed (a follow-up waiting for its next
    attempt).
    """

    def __init__(
        self,
        table: Table,
        *,
        free: str,
        held: str,
        lease: timedelta,
        due: Callable[[datetime], ColumnElement[bool]] | None = None,
    ) -> None:
        self.table = table
        self.free = free
        self.held = held
        self.lease = lease
        self.due = due or (lambda _now: true())
        c = table.c
        self._renew = (
            update(table)
            .where(
                c.status == held,
                c.lease_owner.in_(bindparam("owners", expanding=True)),
            )
            .values(lease_until=bindparam("until"))
        )

    def _expired(self, now: datetime) -> ColumnElement[bool]:
        c = self.table.c
        return (c.status == self.held) & (c.lease_until < now)

    def claimable(self, now: datetime) -> ColumnElement[bool]:
        c = self.table.c
        return ((c.status == self.free) & self.due(now)) | self._expired(now)

    def claim(
        self,
        conn: Connection,
        ids: Sequence[int],
        owner: str,
        returning: Iterable[Any],
        *,
        now: datetime | None = None,
        **values: Any,
    ) -> Sequence[Row[Any]]:
        """Take those of `ids` that are free (and due) or whose lease ran out; one UPDATE.

        Each taken row counts an attempt and is held by `owner` until now + lease.
        """
        now = now or utcnow()
        c = self.table.c
        statement = (
            update(self.table)
            .where(c.id.in_(ids), self.claimable(now))
            .values(
                status=self.held,
                attempts=c.attempts + 1,
                lease_owner=owner,
                lease_until=now + self.lease,
                updated_at=now,
                **values,
            )
            .returning(*returning)
        )
        return conn.execute(statement).all()

    def finish(self, conn: Connection, row_id: int, owner: str, **values: Any) -> None:
        """Write the attempt's outcome if `owner` still holds the row, else raise LeaseLost.

        Leaving the held state clears the lease; staying in it (a heartbeat of progress)
        keeps it.
        """
        self.finish_many(conn, [row_id], owner, **values)

    def finish_many(
        self, conn: Connection, row_ids: Sequence[int], owner: str, **values: Any
    ) -> None:
        """`finish` for a batch held by one claim, in one UPDATE; LeaseLost if any row is no
        longer held by `owner` (the caller rolls the whole batch back)."""
        if not row_ids:
            return
        now = values.pop("now", None) or utcnow()
        if values.get("status", self.held) != self.held:
            values.update(lease_owner=None, lease_until=None)
        c = self.table.c
        won = conn.execute(
            update(self.table)
            .where(c.id.in_(row_ids), c.status == self.held, c.lease_owner == owner)
            .values(updated_at=now, **values)
        ).rowcount
        if won != len(row_ids):
            raise LeaseLost(f"{len(row_ids) - won} {self.table.name} rows are no longer held")

    def renew(self, conn: Connection, owners: Collection[str], *, now: datetime) -> int:
        """Extend every lease of `owners` at once; returns how many rows were renewed."""
        if not owners:
            return 0
        result = conn.execute(self._renew, {"owners": list(owners), "until": now + self.lease})
        return int(result.rowcount)

    def reap(
        self,
        conn: Connection,
        *,
        now: datetime,
        limit: int,
        stale: ColumnElement[bool] | None = None,
        returning: Iterable[Any] = (),
    ) -> list[Row[Any]]:
        """Free the rows whose lease ran out, plus `stale` free rows, and return them.

        Each is taken by an UPDATE that re-checks the condition and makes the row fresh
        (free, `updated_at` now), so two sweepers never both take it.
        """
        c = self.table.c
        condition = self._expired(now)
        if stale is not None:
            condition = condition | ((c.status == self.free) & stale)
        # SKIP LOCKED (PostgreSQL): concurrent sweepers split the rows between them.
        candidates = conn.execute(
            select(c.id, *returning)
            .where(condition)
            .order_by(c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        taken: list[Row[Any]] = []
        for row in candidates:
            won = conn.execute(
                update(self.table)
                .where(c.id == row.id, condition)
                .values(status=self.free, lease_owner=None, lease_until=None, updated_at=now)
            ).rowcount
            if won:
                taken.append(row)
        return taken

    def release_all(self, conn: Connection) -> int:
        """Free every held row: for a lone process restarting, whose previous self held them."""
        return int(
            conn.execute(
                update(self.table)
                .where(self.table.c.status == self.held)
                .values(status=self.free, lease_owner=None, lease_until=None, updated_at=utcnow())
            ).rowcount
        )
