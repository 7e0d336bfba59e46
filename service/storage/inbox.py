"""The inbox: every verified webhook, deduplicated, with its processing state.

The row, not the broker message, is the source of truth. Every state change is a
compare-and-set UPDATE, so concurrent workers and sweepers never both win one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from service.storage.driver import DriverStatement
from service.storage.models import webhook_events
from service.storage.types import utcnow

#: Longest error text kept on a row (characters); tracebacks are for logs.
MAX_ERROR_LENGTH = 2000
#: Rows the sweeper takes per round, so one round stays short.
DEFAULT_SWEEP_BATCH = 500


RECORD_COLUMNS = (
    "event",
    "event_ts",
    "account_id",
    "dedupe_key",
    "body",
    "request_timestamp",
    "zm_trackingid",
    "zm_request_id",
    "app",
    "received_at",
    "updated_at",
    "status",
)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """What the endpoint stores for one verified delivery."""

    event: str
    event_ts: int | None
    account_id: str | None
    dedupe_key: str
    body: str
    request_timestamp: int | None = None
    zm_trackingid: str | None = None
    zm_request_id: str | None = None
    #: The configured Zoom app whose endpoint received it.
    app: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    id: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row taken for processing; `attempts` already counts this attempt."""

    id: int
    event: str
    body: str
    attempts: int


class Inbox:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        c = webhook_events.c
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # The hot-path statements are built once: constructing them per call cost more CPU than
        # the database work itself (measured by bench/ingest).
        self._record = DriverStatement.compile(
            insert(webhook_events)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(c.id),
            engine.dialect,
            RECORD_COLUMNS,
        )
        self._redelivered = (
            update(webhook_events)
            .where(c.dedupe_key == bindparam("key"))
            .values(deliveries=c.deliveries + 1)
            .returning(c.id)
        )
        self._claim = (
            update(webhook_events)
            .where(
                c.id == bindparam("row_id"),
                (c.status == "received")
                | ((c.status == "processing") & (c.updated_at < bindparam("orphaned_before"))),
            )
            .values(status="processing", attempts=c.attempts + 1, updated_at=bindparam("now"))
            .returning(c.id, c.event, c.body, c.attempts)
        )
        self._finish = (
            update(webhook_events)
            .where(c.id == bindparam("row_id"), c.status == "processing")
            .values(
                status=bindparam("status"),
                processed_at=bindparam("now"),
                updated_at=bindparam("now"),
                last_error=None,
            )
        )

    def record(self, new: NewEvent) -> Recorded:
        """Store `new` once. A redelivery bumps `deliveries` on the existing row instead."""
        now = utcnow()
        values = {
            "event": new.event,
            "event_ts": new.event_ts,
            "account_id": new.account_id,
            "dedupe_key": new.dedupe_key,
            "body": new.body,
            "request_timestamp": new.request_timestamp,
            "zm_trackingid": new.zm_trackingid,
            "zm_request_id": new.zm_request_id,
            "app": new.app,
            "received_at": now,
            "updated_at": now,
            "status": "received",
        }
        with self.engine.begin() as conn:
            inserted = self._record.execute(conn, values).scalar_one_or_none()
            if inserted is not None:
                return Recorded(id=inserted, duplicate=False)
            existing = conn.execute(self._redelivered, {"key": new.dedupe_key}).scalar_one()
            return Recorded(id=existing, duplicate=True)

    def claim(self, row_id: int, *, processing_timeout: timedelta) -> Claimed | None:
        """Take a `received` row (or an orphaned `processing` one) for processing, or None."""
        now = utcnow()
        params = {"row_id": row_id, "orphaned_before": now - processing_timeout, "now": now}
        with self.engine.begin() as conn:
            row = conn.execute(self._claim, params).one_or_none()
        if row is None:
            return None
        return Claimed(id=row.id, event=row.event, body=row.body, attempts=row.attempts)

    def finish(self, conn: Connection, row_id: int, status: str) -> None:
        """Mark a claimed row `done` or `ignored`, inside the handler's transaction."""
        conn.execute(self._finish, {"row_id": row_id, "status": status, "now": utcnow()})

    def fail(self, row_id: int, error: str, *, final: bool) -> None:
        """Record a failed attempt: back to `received` for a retry, or `failed` for good."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                update(webhook_events)
                .where(webhook_events.c.id == row_id, webhook_events.c.status == "processing")
                .values(
                    status="failed" if final else "received",
                    last_error=error[:MAX_ERROR_LENGTH],
                    updated_at=now,
                    processed_at=now if final else None,
                )
            )

    def sweep(
        self,
        *,
        received_before: datetime,
        processing_before: datetime,
        limit: int = DEFAULT_SWEEP_BATCH,
    ) -> list[int]:
        """Ids of unfinished rows that nobody has touched since the cut-offs, oldest first.

        Each row is taken by an UPDATE that re-checks it is still stale and makes it fresh
        (`received`, `updated_at` now): a concurrent sweeper's UPDATE then matches nothing, and
        the next round leaves the row alone until it is stale again.
        """
        c = webhook_events.c
        now = utcnow()
        stale = ((c.status == "received") & (c.updated_at < received_before)) | (
            (c.status == "processing") & (c.updated_at < processing_before)
        )
        with self.engine.begin() as conn:
            # SKIP LOCKED (PostgreSQL): concurrent sweepers split the stale rows between them.
            candidates = conn.execute(
                select(c.id)
                .where(stale)
                .order_by(c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            taken: list[int] = []
            for row in candidates:
                won = conn.execute(
                    update(webhook_events)
                    .where(c.id == row.id, stale)
                    .values(status="received", updated_at=now)
                ).rowcount
                if won:
                    taken.append(row.id)
        return taken

    def release_orphans(self) -> int:
        """Hand `processing` rows back to `received`: for a single process restarting."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(webhook_events)
                .where(webhook_events.c.status == "processing")
                .values(status="received", updated_at=utcnow())
            ).rowcount

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(webhook_events.c.status, func.count()).group_by(webhook_events.c.status)
            ).all()
        return {str(row[0]): int(row[1]) for row in rows}

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
