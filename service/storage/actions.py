"""Write-side action jobs: one `actions` row per action, which is its audit record too.

The row runs on the lease state machine of the inbox and the follow-ups
(service.storage.lease): free `pending`, held `running`, finished `done`, `dry_run` or
`failed`. UNIQUE (inbox_id, kind) means a redelivered webhook finds its action already there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from service.storage.followups import worker_identity
from service.storage.inbox import MAX_ERROR_LENGTH
from service.storage.jobs import JobTable
from service.storage.lease import DEFAULT_LEASE_SECONDS, LeaseLost
from service.storage.models import actions
from service.storage.types import utcnow

#: Rows `actions list` shows unless told otherwise.
DEFAULT_LIST_LIMIT = 50


@dataclass(frozen=True, slots=True)
class NewAction:
    kind: str
    target: str
    method: str
    path: str
    body: Mapping[str, Any]
    reason: str


@dataclass(frozen=True, slots=True)
class ActionJob:
    id: int
    app: str
    account_id: str | None
    inbox_id: int
    kind: str
    target: str
    method: str
    path: str
    request: str
    dry_run: bool
    attempts: int
    requested_by: str
    #: The claim's lease owner: every write of this attempt is guarded by it.
    owner: str

    @property
    def body(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.request)
        return loaded


@dataclass(frozen=True, slots=True)
class Answer:
    """What Zoom said (or, for a dry run, that nothing was asked)."""

    status: int | None = None
    code: int | None = None
    message: str | None = None
    tracking_id: str | None = None
    fix: str | None = None


class ActionJobs(JobTable):
    def __init__(
        self, engine: Engine, *, lease: timedelta = timedelta(seconds=DEFAULT_LEASE_SECONDS)
    ) -> None:
        super().__init__(engine, actions, lease=lease)

    def create(
        self,
        conn: Connection,
        planned: Sequence[NewAction],
        *,
        app: str,
        account_id: str | None,
        inbox_id: int,
        dry_run: bool,
        requested_by: str,
    ) -> list[int]:
        """Record the actions not recorded yet (inside the handler's transaction); the ids of
        the new ones. An action that exists keeps its state: a redelivery never acts twice."""
        now = utcnow()
        created: list[int] = []
        for step in planned:
            new_id = conn.execute(
                self._insert(actions)
                .values(
                    app=app,
                    account_id=account_id,
                    inbox_id=inbox_id,
                    kind=step.kind,
                    target=step.target,
                    method=step.method,
                    path=step.path,
                    request=json.dumps(step.body, sort_keys=True),
                    dry_run=dry_run,
                    status="pending",
                    requested_by=requested_by,
                    reason=step.reason,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["inbox_id", "kind"])
                .returning(actions.c.id)
            ).scalar_one_or_none()
            if new_id is not None:
                created.append(new_id)
        return created

    def claim(self, action_id: int, owner: str) -> ActionJob | None:
        """Take a due `pending` action (or one whose lease ran out); None if not now."""
        c = actions.c
        with self.engine.begin() as conn:
            rows = self.leases.claim(
                conn,
                [action_id],
                owner,
                (
                    c.id,
                    c.app,
                    c.account_id,
                    c.inbox_id,
                    c.kind,
                    c.target,
                    c.method,
                    c.path,
                    c.request,
                    c.dry_run,
                    c.attempts,
                    c.requested_by,
                ),
                claimed_by=worker_identity(),
            )
        if not rows:
            return None
        return ActionJob(**rows[0]._mapping, owner=owner)

    def finish(self, job: ActionJob, status: str, answer: Answer) -> bool:
        """`done`, `dry_run` or `failed`, for good (False: another claim holds the row)."""
        return self._write(
            job,
            status=status,
            next_attempt_at=None,
            finished_at=utcnow(),
            **_answer(answer),
        )

    def reschedule(self, job: ActionJob, *, at: datetime, answer: Answer, count: bool) -> bool:
        """Back to `pending` until `at`; a wait Zoom imposed (429) does not count as an attempt."""
        extra = {} if count else {"attempts": actions.c.attempts - 1}
        return self._write(job, status="pending", next_attempt_at=at, **_answer(answer), **extra)

    def _write(self, job: ActionJob, **values: Any) -> bool:
        try:
            with self.engine.begin() as conn:
                self.leases.finish(conn, job.id, job.owner, **values)
        except LeaseLost:
            return False
        return True

    def again(self, action_id: int, *, dry_run: bool | None, requested_by: str) -> bool:
        """Make a finished (or pending) action pending and due now, for an operator's `run`;
        False if no such action or a worker holds it."""
        c = actions.c
        values: dict[str, Any] = {
            "status": "pending",
            "next_attempt_at": None,
            "attempts": 0,
            "requested_by": requested_by[:200],
            "updated_at": utcnow(),
        }
        if dry_run is not None:
            values["dry_run"] = dry_run
        with self.engine.begin() as conn:
            won = conn.execute(
                actions.update().where(c.id == action_id, c.status != "running").values(**values)
            ).rowcount
        return bool(won)

    def get(self, action_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(actions).where(actions.c.id == action_id)).first()
        return dict(row._mapping) if row is not None else None

    def list(
        self,
        *,
        app: str | None = None,
        status: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> list[dict[str, Any]]:
        """The newest actions first."""
        c = actions.c
        query = select(actions).order_by(c.id.desc()).limit(limit)
        if app is not None:
            query = query.where(c.app == app)
        if status is not None:
            query = query.where(c.status == status)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]


def _answer(answer: Answer) -> dict[str, Any]:
    return {
        "zoom_status": answer.status,
        "zoom_code": answer.code,
        "zoom_message": answer.message[:MAX_ERROR_LENGTH] if answer.message else None,
        "zm_trackingid": answer.tracking_id,
        "fix": answer.fix[:MAX_ERROR_LENGTH] if answer.fix else None,
    }
