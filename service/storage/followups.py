"""Follow-up jobs: one row per instance and resource, with its own state.

Like the inbox, the row is the source of truth, and a worker holds a job by a lease
(service.storage.lease): a duplicate message, a second worker or a sweeper racing a worker
cannot run one job twice, and a worker that lost its lease cannot overwrite the new holder.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, func, select

from service.storage.driver import DriverStatement
from service.storage.inbox import MAX_ERROR_LENGTH
from service.storage.jobs import JobTable
from service.storage.lease import DEFAULT_LEASE_SECONDS, LeaseLost
from service.storage.models import followups
from service.storage.types import utcnow

#: Most jobs one INSERT creates (an ended webinar asks for 7).
DEFAULT_CREATE_CHUNK = 64
CREATE_COLUMNS = (
    "instance_uuid",
    "kind",
    "resource",
    "account_id",
    "status",
    "next_attempt_at",
    "inbox_id",
    "app",
    "created_at",
    "updated_at",
)


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
    #: The app whose secret verified the event that asked for it (None: an operator did).
    app: str | None
    #: The claim's lease owner: every write of this attempt is guarded by it.
    owner: str


@dataclass(frozen=True, slots=True)
class NewFollowups:
    """The jobs one ended instance asks for: one per resource."""

    instance_uuid: str
    kind: str
    resources: tuple[str, ...]
    account_id: str | None
    inbox_id: int | None
    first_attempt_at: datetime
    #: The app whose secret verified the event that asks for them.
    app: str | None = None


class Followups(JobTable):
    def __init__(
        self, engine: Engine, *, lease: timedelta = timedelta(seconds=DEFAULT_LEASE_SECONDS)
    ) -> None:
        super().__init__(engine, followups, lease=lease)
        # Compiled once per number of jobs (see `service.storage.driver`).
        self._create: dict[int, DriverStatement] = {}

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
        app: str | None = None,
    ) -> list[tuple[int, datetime]]:
        """Create the jobs not created yet (inside the handler's transaction).

        Returns (id, first attempt) of each new job; a job that exists keeps its state.
        """
        request = NewFollowups(
            instance_uuid, kind, tuple(resources), account_id, inbox_id, first_attempt_at, app
        )
        return [(job_id, at) for _, job_id, at in self.create_many(conn, [request])]

    def create_many(
        self, conn: Connection, requests: Sequence[NewFollowups]
    ) -> list[tuple[NewFollowups, int, datetime]]:
        """`create` for many instances, one INSERT per DEFAULT_CREATE_CHUNK jobs.

        Returns (request, id, first attempt) of each new job, in the order created; a job
        that exists, or that an earlier request of the same instance created, keeps its state.
        """
        now = utcnow()
        wanted = [(request, resource) for request in requests for resource in request.resources]
        # Of two requests for one job, the first creates it (the INSERT takes them in order).
        first: dict[tuple[str, str], NewFollowups] = {}
        for request, resource in wanted:
            first.setdefault((request.instance_uuid, resource), request)
        created: list[tuple[NewFollowups, int, datetime]] = []
        for start in range(0, len(wanted), DEFAULT_CREATE_CHUNK):
            chunk = wanted[start : start + DEFAULT_CREATE_CHUNK]
            values: dict[str, object] = {}
            for i, (request, resource) in enumerate(chunk):
                values.update(
                    {
                        f"instance_uuid_{i}": request.instance_uuid,
                        f"kind_{i}": request.kind,
                        f"resource_{i}": resource,
                        f"account_id_{i}": request.account_id,
                        f"status_{i}": "pending",
                        f"next_attempt_at_{i}": request.first_attempt_at,
                        f"inbox_id_{i}": request.inbox_id,
                        f"app_{i}": request.app,
                        f"created_at_{i}": now,
                        f"updated_at_{i}": now,
                    }
                )
            for row in self._create_statement(conn, len(chunk)).execute(conn, values):
                request = first[(row.instance_uuid, row.resource)]
                created.append((request, row.id, request.first_attempt_at))
        created.sort(key=lambda job: job[1])
        return created

    def _create_statement(self, conn: Connection, size: int) -> DriverStatement:
        statement = self._create.get(size)
        if statement is None:
            insert = self._insert(followups).values(
                [{name: bindparam(f"{name}_{i}") for name in CREATE_COLUMNS} for i in range(size)]
            )
            created = insert.on_conflict_do_nothing(
                index_elements=["instance_uuid", "resource"]
            ).returning(followups.c.id, followups.c.instance_uuid, followups.c.resource)
            names = [f"{name}_{i}" for i in range(size) for name in CREATE_COLUMNS]
            statement = DriverStatement.compile(created, conn.dialect, names)
            self._create[size] = statement
        return statement

    def claim(self, followup_id: int, owner: str) -> Followup | None:
        """Take a due `pending` job (or one whose lease ran out) for `owner`; None if not now."""
        c = followups.c
        with self.engine.begin() as conn:
            rows = self.leases.claim(
                conn,
                [followup_id],
                owner,
                (
                    c.id,
                    c.instance_uuid,
                    c.kind,
                    c.resource,
                    c.account_id,
                    c.attempts,
                    c.inbox_id,
                    c.created_at,
                    c.app,
                ),
                claimed_by=worker_identity(),
            )
        if not rows:
            return None
        return Followup(**rows[0]._mapping, owner=owner)

    def _finish(self, conn: Connection, job: Followup, **values: object) -> bool:
        """The attempt's outcome, if `job`'s claim still holds the row (False if not)."""
        try:
            self.leases.finish(conn, job.id, job.owner, **values)
        except LeaseLost:
            return False
        return True

    def done(
        self, conn: Connection, job: Followup, *, rows_stored: int, tracking_id: str | None
    ) -> bool:
        """Mark done in the transaction that stored the last page."""
        now = utcnow()
        return self._finish(
            conn,
            job,
            status="done",
            rows_stored=rows_stored,
            zm_trackingid=tracking_id,
            fetched_at=now,
            next_attempt_at=None,
            last_error=None,
        )

    def reschedule(
        self,
        job: Followup,
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
                job,
                status="pending",
                next_attempt_at=at,
                last_error=error[:MAX_ERROR_LENGTH],
                zm_trackingid=tracking_id,
                **extra,
            )

    def end(
        self, job: Followup, *, status: str, error: str | None, tracking_id: str | None
    ) -> bool:
        """`failed` or `not_applicable`, for good."""
        with self.engine.begin() as conn:
            return self._finish(
                conn,
                job,
                status=status,
                last_error=error[:MAX_ERROR_LENGTH] if error else None,
                zm_trackingid=tracking_id,
                next_attempt_at=None,
                fetched_at=utcnow(),
            )

    def progress(self, conn: Connection, job: Followup) -> None:
        """A page stored: raises LeaseLost (rolling the page back) when the job was taken over."""
        self.leases.finish(conn, job.id, job.owner)

    def counts(self, ids: Sequence[int] | None = None) -> dict[tuple[str, str], int]:
        """Jobs by (resource, status): all of them, or those of `ids`."""
        c = followups.c
        query = select(c.resource, c.status, func.count()).group_by(c.resource, c.status)
        if ids is not None:
            query = query.where(c.id.in_(ids))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}
