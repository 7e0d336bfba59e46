"""Idempotent writes of Zoom data: instances, the live timeline, registrants, fetched lists.

Every write is an INSERT … ON CONFLICT on a natural key, so running it twice, or out of order,
leaves the tables as running it once in order would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite

from service.storage.models import (
    absentees,
    instances,
    participant_events,
    participants,
    poll_answers,
    qa_entries,
    registrants,
)
from service.storage.types import utcnow

Row = Mapping[str, Any]

#: The table each follow-up resource fills.
RESOURCE_TABLES: dict[str, Table] = {
    "participants": participants,
    "absentees": absentees,
    "qa": qa_entries,
    "polls": poll_answers,
}


def _insert(conn: Connection, table: Table) -> Any:
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def upsert_instance(conn: Connection, row: Row, inbox_id: int) -> None:
    """Known fields win over unknown ones, so `started` after `ended` loses no end time."""
    now = utcnow()
    insert = _insert(conn, instances).values(
        **row, inbox_id=inbox_id, created_at=now, updated_at=now
    )
    merged = {
        name: func.coalesce(insert.excluded[name], instances.c[name])
        for name in row
        if name not in ("uuid", "kind")
    }
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["uuid"], set_={**merged, "inbox_id": inbox_id, "updated_at": now}
        )
    )


def add_participant_event(conn: Connection, row: Row) -> None:
    """The timeline is a log keyed by inbox event: a redelivery adds nothing."""
    conn.execute(
        _insert(conn, participant_events)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["inbox_id"])
    )


def upsert_registrant(conn: Connection, row: Row) -> None:
    """The newest event (by `event_ts`) sets a registrant's status, whatever the arrival order."""
    insert = _insert(conn, registrants).values(**row)
    newer = (registrants.c.event_ts.is_(None)) | (
        func.coalesce(insert.excluded.event_ts, 0) >= registrants.c.event_ts
    )
    updates = {name: insert.excluded[name] for name in row if name not in ("webinar_id", "id")}
    conn.execute(
        insert.on_conflict_do_update(index_elements=["webinar_id", "id"], set_=updates, where=newer)
    )


def upsert_fetched(
    conn: Connection,
    resource: str,
    rows: Sequence[Row],
    *,
    instance_uuid: str,
    followup_id: int,
    inbox_id: int | None,
) -> int:
    """Store one page of a follow-up's records with a single executemany; returns its size."""
    if not rows:
        return 0
    table = RESOURCE_TABLES[resource]
    trace = {"instance_uuid": instance_uuid, "followup_id": followup_id, "inbox_id": inbox_id}
    values = [{**row, **trace} for row in rows]
    insert = _insert(conn, table)
    updates = {
        name: insert.excluded[name]
        for name in values[0]
        if name not in ("instance_uuid", "row_key")
    }
    conn.execute(
        insert.on_conflict_do_update(index_elements=["instance_uuid", "row_key"], set_=updates),
        values,
    )
    return len(values)
