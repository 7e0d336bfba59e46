"""The inbox: every verified webhook, deduplicated, with its processing state.

The row, not the broker message, is the source of truth. A worker takes rows by a lease
(service.storage.lease): every later write of its attempt is guarded by the lease's owner,
so concurrent workers and sweepers never both win one row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from service.storage.driver import DriverStatement
from service.storage.lease import DEFAULT_LEASE_SECONDS, LeasedTable
from service.storage.models import webhook_events
from service.storage.types import utcnow

#: Longest error text kept on a row (characters); tracebacks are for logs.
MAX_ERROR_LENGTH = 2000
#: Rows the sweeper takes per round, so one round stays short.
DEFAULT_SWEEP_BATCH = 500
#: Most deliveries one INSERT stores (a group commit larger than this takes several).
DEFAULT_RECORD_BATCH = 128


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
    "transport",
    "received_at",
    "updated_at",
    "status",
    "deliveries",
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
    #: For log lines only (not stored apart from the body).
    instance_uuid: str | None = None
    #: How it came: `webhook` (an HTTP POST) or `websocket` (`zoomhooks listen`).
    transport: str = "webhook"
    #: The decoded event, when the caller has it already (not stored; saves a second parse
    #: when the row is processed in the transaction that stores it).
    parsed: object = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Recorded:
    id: int
    duplicate: bool


#: Work done inside the transaction that stores a batch, on its new rows (id, delivery).
Within = Callable[[Connection, Sequence[tuple[int, NewEvent]]], None]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row taken for processing; `attempts` already counts this attempt."""

    id: int
    event: str
    body: str
    attempts: int
    #: The configured Zoom app whose secret verified it.
    app: str | None = None


class Inbox:
    def __init__(
        self,
        engine: Engine,
        *,
        lease: timedelta = timedelta(seconds=DEFAULT_LEASE_SECONDS),
        write_engine: Engine | None = None,
    ) -> None:
        """`write_engine` (optional) takes the deliveries' INSERTs: on PostgreSQL, one
        without a pre-ping round trip per checkout."""
        self.engine = engine
        self.write_engine = write_engine or engine
        self.leases = LeasedTable(webhook_events, free="received", held="processing", lease=lease)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # Hot-path statements are compiled once (per batch size): building them per call cost
        # more CPU than the database work itself (measured by bench/ingest).
        self._record: dict[int, DriverStatement] = {}
        self._finish: dict[int, DriverStatement] = {}

    def _record_statement(self, size: int) -> DriverStatement:
        statement = self._record.get(size)
        if statement is None:
            c = webhook_events.c
            insert = self._insert(webhook_events).values(
                [{name: bindparam(f"{name}_{i}") for name in RECORD_COLUMNS} for i in range(size)]
            )
            upsert = insert.on_conflict_do_update(
                index_elements=["dedupe_key"],
                set_={"deliveries": c.deliveries + insert.excluded.deliveries},
            ).returning(c.id, c.dedupe_key, c.deliveries)
            names = [f"{name}_{i}" for i in range(size) for name in RECORD_COLUMNS]
            statement = DriverStatement.compile(upsert, self.engine.dialect, names)
            self._record[size] = statement
        return statement

    def record(self, new: NewEvent) -> Recorded:
        """Store `new` once. A redelivery bumps `deliveries` on the existing row instead."""
        return self.record_many([new])[0]

    def record_many(
        self, batch: Sequence[NewEvent], *, within: Within | None = None
    ) -> list[Recorded]:
        """Store a batch in one transaction (one fsync), one statement per DEFAULT_RECORD_BATCH.

        Returns a result per delivery, in order. Deliveries of one event within the batch are
        one row: the first is new (unless the row existed), the others are duplicates.
        `within` runs in the same transaction, before the commit, on the batch's new rows.
        """
        counts: dict[str, int] = {}
        firsts: dict[str, NewEvent] = {}
        for new in batch:
            counts[new.dedupe_key] = counts.get(new.dedupe_key, 0) + 1
            firsts.setdefault(new.dedupe_key, new)
        unique = list(firsts.values())
        try:
            stored = self._store(unique, counts, within)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            # The pool had a connection the server had dropped (it restarted): the hot path
            # has no pre-ping, so it tries once more on a fresh one.
            stored = self._store(unique, counts, within)
        results: list[Recorded] = []
        seen: set[str] = set()
        for new in batch:
            row_id, existed = stored[new.dedupe_key]
            results.append(Recorded(id=row_id, duplicate=existed or new.dedupe_key in seen))
            seen.add(new.dedupe_key)
        return results

    def _store(
        self, unique: Sequence[NewEvent], counts: dict[str, int], within: Within | None
    ) -> dict[str, tuple[int, bool]]:
        now = utcnow()
        stored: dict[str, tuple[int, bool]] = {}
        with self.write_engine.begin() as conn:
            for start in range(0, len(unique), DEFAULT_RECORD_BATCH):
                chunk = unique[start : start + DEFAULT_RECORD_BATCH]
                values: dict[str, Any] = {}
                for i, new in enumerate(chunk):
                    for name, value in _row(new, now, counts[new.dedupe_key]).items():
                        values[f"{name}_{i}"] = value
                statement = self._record_statement(len(chunk))
                for row in statement.execute(conn, values):
                    # A new row has exactly the deliveries this batch brought.
                    stored[row.dedupe_key] = (row.id, row.deliveries != counts[row.dedupe_key])
            if within is not None:
                fresh = [
                    (stored[new.dedupe_key][0], new)
                    for new in unique
                    if not stored[new.dedupe_key][1]
                ]
                if fresh:
                    within(conn, fresh)
        return stored

    def claim(self, row_ids: Sequence[int], owner: str) -> list[Claimed]:
        """Take the `received` rows of `row_ids` (or ones whose lease ran out) for `owner`."""
        c = webhook_events.c
        with self.engine.begin() as conn:
            rows = self.leases.claim(
                conn, row_ids, owner, (c.id, c.event, c.body, c.attempts, c.app)
            )
        claimed = [Claimed(**row._mapping) for row in rows]
        return sorted(claimed, key=lambda row: row.id)

    def finish(self, conn: Connection, row_id: int, owner: str, status: str) -> None:
        """Mark a claimed row `done` or `ignored`, inside the handler's transaction.

        Raises LeaseLost (the caller rolls back) when another claim holds the row now.
        """
        now = utcnow()
        self.leases.finish(conn, row_id, owner, status=status, processed_at=now, last_error=None)

    def finish_many(self, conn: Connection, outcomes: Mapping[int, str], owner: str) -> None:
        """`finish` for a batch held by one claim: one UPDATE per outcome. Raises LeaseLost
        when any of the rows is held by another claim now."""
        now = utcnow()
        for status in sorted(set(outcomes.values())):
            ids = [row_id for row_id, outcome in outcomes.items() if outcome == status]
            self.leases.finish_many(
                conn, ids, owner, status=status, processed_at=now, last_error=None, now=now
            )

    def finish_fresh(self, conn: Connection, outcomes: Mapping[int, str]) -> None:
        """Mark rows `done` or `ignored` in the transaction that inserted them (nobody else can
        see them yet, so no lease is needed): their one attempt, processed now."""
        now = utcnow()
        for status in sorted(set(outcomes.values())):
            ids = [row_id for row_id, outcome in outcomes.items() if outcome == status]
            for start in range(0, len(ids), DEFAULT_RECORD_BATCH):
                chunk = ids[start : start + DEFAULT_RECORD_BATCH]
                values: dict[str, Any] = {f"id_{i}": row_id for i, row_id in enumerate(chunk)}
                values.update(new_status=status, free="received", one=1, at=now)
                self._finish_statement(len(chunk)).execute(conn, values)

    def _finish_statement(self, size: int) -> DriverStatement:
        statement = self._finish.get(size)
        if statement is None:
            c = webhook_events.c
            ids = [f"id_{i}" for i in range(size)]
            names = [*ids, "new_status", "free", "one", "at"]
            finish = (
                update(webhook_events)
                .where(c.id.in_([bindparam(name) for name in ids]), c.status == bindparam("free"))
                .values(
                    status=bindparam("new_status"),
                    attempts=bindparam("one"),
                    processed_at=bindparam("at"),
                    updated_at=bindparam("at"),
                )
            )
            statement = DriverStatement.compile(finish, self.engine.dialect, names)
            self._finish[size] = statement
        return statement

    def fail(self, row_id: int, owner: str, error: str, *, final: bool) -> None:
        """Record a failed attempt: back to `received` for a retry, or `failed` for good.

        Raises LeaseLost when another claim holds the row now (its result stands).
        """
        now = utcnow()
        with self.engine.begin() as conn:
            self.leases.finish(
                conn,
                row_id,
                owner,
                status="failed" if final else "received",
                last_error=error[:MAX_ERROR_LENGTH],
                processed_at=now if final else None,
            )

    def sweep(self, *, received_before: datetime, limit: int = DEFAULT_SWEEP_BATCH) -> list[int]:
        """Ids of rows no message seems to carry: `received` and untouched since
        `received_before`, or held by a lease that ran out. Oldest first; each is taken with
        a re-checking UPDATE that makes it fresh, so two sweepers never both take it."""
        now = utcnow()
        stale = webhook_events.c.updated_at < received_before
        with self.engine.begin() as conn:
            taken = self.leases.reap(conn, now=now, limit=limit, stale=stale)
        return [row.id for row in taken]

    def release_orphans(self) -> int:
        """Hand `processing` rows back to `received`: for a single process restarting."""
        with self.engine.begin() as conn:
            return self.leases.release_all(conn)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(webhook_events.c.status, func.count()).group_by(webhook_events.c.status)
            ).all()
        return {str(row[0]): int(row[1]) for row in rows}

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


def _row(new: NewEvent, now: datetime, deliveries: int) -> dict[str, Any]:
    return {
        "event": new.event,
        "event_ts": new.event_ts,
        "account_id": new.account_id,
        "dedupe_key": new.dedupe_key,
        "body": new.body,
        "request_timestamp": new.request_timestamp,
        "zm_trackingid": new.zm_trackingid,
        "zm_request_id": new.zm_request_id,
        "app": new.app,
        "transport": new.transport,
        "received_at": now,
        "updated_at": now,
        "status": "received",
        "deliveries": deliveries,
    }
