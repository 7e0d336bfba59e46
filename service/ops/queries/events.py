"""Reading the inbox, `webhook_events`: filtered listings, one row, and what a row produced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Table,
    case,
    cast,
    func,
    select,
)
from sqlalchemy.dialects import postgresql

from service.ops.formatting import glob_to_like
from service.storage.models import (
    absentees,
    followups,
    instances,
    participant_events,
    participants,
    poll_answers,
    qa_entries,
    registrants,
    webhook_events,
)

#: Tables whose rows name the inbox event that wrote them, in the order they are shown.
PRODUCED: tuple[Table, ...] = (
    instances,
    participant_events,
    registrants,
    participants,
    absentees,
    qa_entries,
    poll_answers,
)

LIKE_ESCAPE = "\\"


@dataclass(frozen=True, slots=True)
class EventFilter:
    status: str | None = None
    event: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    instance: str | None = None


def instance_uuid(dialect: str) -> ColumnElement[Any]:
    """`payload.object.uuid` of the body (JSON text), or NULL."""
    body = webhook_events.c.body
    if dialect == "postgresql":
        # `json`, not `jsonb`: it takes any valid JSON text, \u0000 included.
        document = cast(body, postgresql.JSON)
        uuid: ColumnElement[Any] = document[("payload", "object", "uuid")].astext
        return uuid
    # json_extract raises on malformed JSON; json_valid keeps one odd row from failing all.
    return case(
        (func.json_valid(body) == 1, func.json_extract(body, "$.payload.object.uuid")),
        else_=None,
    )


def _where(conn: Connection, f: EventFilter) -> list[ColumnElement[bool]]:
    c = webhook_events.c
    found: list[ColumnElement[bool]] = []
    if f.status is not None:
        found.append(c.status == f.status)
    if f.event is not None:
        if "*" in f.event:
            found.append(c.event.like(glob_to_like(f.event, LIKE_ESCAPE), escape=LIKE_ESCAPE))
        else:
            found.append(c.event == f.event)
    if f.since is not None:
        found.append(c.received_at >= f.since)
    if f.until is not None:
        found.append(c.received_at < f.until)
    if f.instance is not None:
        found.append(instance_uuid(conn.dialect.name) == f.instance)
    return found


def list_events(conn: Connection, f: EventFilter, *, limit: int) -> list[RowMapping]:
    """Matching rows, newest first, without their bodies (plus the instance uuid)."""
    c = webhook_events.c
    query = (
        select(
            c.id,
            c.event,
            c.status,
            c.attempts,
            c.deliveries,
            c.received_at,
            c.updated_at,
            c.processed_at,
            instance_uuid(conn.dialect.name).label("instance_uuid"),
            c.last_error,
        )
        .where(*_where(conn, f))
        .order_by(c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def get_event(conn: Connection, inbox_id: int) -> RowMapping | None:
    """Every column of one row."""
    query = select(webhook_events).where(webhook_events.c.id == inbox_id)
    return conn.execute(query).mappings().one_or_none()


def produced(conn: Connection, inbox_id: int) -> dict[str, int]:
    """How many rows of each table name this event as their `inbox_id` (one round trip)."""
    counts = [
        select(func.count())
        .select_from(table)
        .where(table.c.inbox_id == inbox_id)
        .scalar_subquery()
        .label(table.name)
        for table in PRODUCED
    ]
    row = conn.execute(select(*counts)).mappings().one()
    return {table.name: int(row[table.name]) for table in PRODUCED}


def followups_of(conn: Connection, inbox_id: int) -> list[RowMapping]:
    c = followups.c
    query = (
        select(
            c.id,
            c.resource,
            c.status,
            c.attempts,
            c.rows_stored,
            c.next_attempt_at,
            c.fetched_at,
            c.last_error,
        )
        .where(c.inbox_id == inbox_id)
        .order_by(c.id)
    )
    return list(conn.execute(query).mappings())


def failed_ids(
    conn: Connection, *, since: datetime | None, until: datetime | None
) -> Sequence[int]:
    """Ids of `failed` rows received in the range, oldest first."""
    f = EventFilter(status="failed", since=since, until=until)
    query = select(webhook_events.c.id).where(*_where(conn, f)).order_by(webhook_events.c.id)
    return list(conn.execute(query).scalars())
