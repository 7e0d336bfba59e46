"""Idempotent writes of Zoom data: instances, the live timeline, registrants, fetched lists.

Every write is an INSERT … ON CONFLICT on a natural key, so running it twice, or out of order,
leaves the tables as running it once in order would. Statements are built once per dialect and
table: building them per call cost more CPU than the database work (bench/ingest).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Select,
    Table,
    bindparam,
    case,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from service.storage.driver import DriverStatement
from service.storage.models import (
    absentees,
    instance_details,
    instances,
    participant_events,
    participants,
    poll_answers,
    qa_entries,
    recording_files,
    recordings,
    registrants,
    report_participants,
)
from service.storage.types import utcnow

Row = Mapping[str, Any]

#: The table each follow-up resource fills.
RESOURCE_TABLES: dict[str, Table] = {
    "participants": participants,
    "absentees": absentees,
    "qa": qa_entries,
    "polls": poll_answers,
    "report": report_participants,
    "details": instance_details,  # one row per instance: keyed by instance_uuid alone
}
_SURROGATE = frozenset({"pk"})


def _insert(dialect: str, table: Table) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def _columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.name not in _SURROGATE]


INSTANCE_COLUMNS = tuple(_columns(instances))


@functools.cache
def _instance_merge(dialect: str) -> Insert:
    insert = _insert(dialect, instances)
    keep = ("uuid", "kind", "id", "created_at", "inbox_id", "updated_at")
    # Known fields win over unknown ones, so `started` after `ended` loses no end time.
    merged = {
        name: func.coalesce(insert.excluded[name], instances.c[name])
        for name in INSTANCE_COLUMNS
        if name not in keep
    }
    updates = {
        **merged,
        "inbox_id": func.coalesce(insert.excluded.inbox_id, instances.c.inbox_id),
        "updated_at": insert.excluded.updated_at,
    }
    return insert.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=["uuid"], set_=updates
    )


@functools.cache
def _instance_upsert(dialect: str) -> Insert:
    return _instance_merge(dialect).returning(instances.c.kind)


@functools.cache
def _timeline_insert(dialect: str) -> Insert:
    return _insert(dialect, participant_events).on_conflict_do_nothing(  # type: ignore[no-any-return]
        index_elements=["inbox_id"]
    )


#: Registrant columns the newest source (by `event_ts`) sets outright; every other column takes
#: the newest source's value when it has one, else keeps the one it has.
REGISTRANT_NEWEST_WINS = ("status", "event_ts", "data")


@functools.cache
def _registrant_upsert(dialect: str) -> Insert:
    """Live events and Zoom's listing (`service.storage.registrants`) merge into one row; the
    result is the same whatever order they arrive in (no WHERE: an older source still fills
    the blanks a newer one left)."""
    insert = _insert(dialect, registrants)
    newer = registrants.c.event_ts.is_(None) | (
        func.coalesce(insert.excluded.event_ts, 0) >= registrants.c.event_ts
    )
    updates: dict[str, Any] = {}
    for name in _columns(registrants):
        if name in ("webinar_id", "id"):
            continue
        new, old = insert.excluded[name], registrants.c[name]
        if name in REGISTRANT_NEWEST_WINS:
            updates[name] = case((newer, new), else_=old)
        else:
            updates[name] = case((newer, func.coalesce(new, old)), else_=func.coalesce(old, new))
    return insert.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=["webinar_id", "id"], set_=updates
    )


@functools.cache
def _fetched_upsert(dialect: str, resource: str) -> Insert:
    table = RESOURCE_TABLES[resource]
    insert = _insert(dialect, table)
    key = ["instance_uuid", "row_key"] if "row_key" in table.c else ["instance_uuid"]
    updates = {name: insert.excluded[name] for name in _columns(table) if name not in key}
    return insert.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=key, set_=updates
    )


@functools.cache
def _instance_statement(dialect: Dialect, *, returning: bool = True) -> DriverStatement:
    names = [name for name in INSTANCE_COLUMNS if name != "id"]
    upsert = (_instance_upsert if returning else _instance_merge)(dialect.name)
    return DriverStatement.compile(upsert, dialect, names)


@functools.cache
def _timeline_statement(dialect: Dialect) -> DriverStatement:
    insert = _timeline_insert(dialect.name)
    return DriverStatement.compile(insert, dialect, _columns(participant_events))


# The live handlers run once per event: their statements go to the driver compiled once (see
# `service.storage.driver`): building them per call was most of the workers' CPU per event.
class KindConflict(Exception):
    """A meeting and a webinar with one uuid: Zoom's uuids are unique, so one event is wrong."""


def upsert_instance(conn: Connection, row: Row, inbox_id: int | None) -> None:
    """Raises KindConflict when the uuid is stored as the other kind (nothing is merged)."""
    now = utcnow()
    values = dict.fromkeys(INSTANCE_COLUMNS)
    values.update(row, inbox_id=inbox_id, created_at=now, updated_at=now)
    stored = _instance_statement(conn.dialect).execute(conn, values).scalar_one()
    _same_kind(row["uuid"], row["kind"], stored)


def upsert_instances(conn: Connection, rows: Sequence[tuple[Row, int | None]]) -> None:
    """`upsert_instance` for many (row, inbox_id), in order, with one executemany and one
    SELECT of the kinds they left. Raises KindConflict as `upsert_instance` does, after the
    merge: the caller rolls the transaction (or savepoint) back."""
    if len(rows) <= 1:
        for row, inbox_id in rows:
            upsert_instance(conn, row, inbox_id)
        return
    now = utcnow()
    blank = dict.fromkeys(INSTANCE_COLUMNS)
    values = [
        {**blank, **row, "inbox_id": inbox_id, "created_at": now, "updated_at": now}
        for row, inbox_id in rows
    ]
    _instance_statement(conn.dialect, returning=False).executemany(conn, values)
    uuids = list({row["uuid"]: None for row, _ in rows})
    stored = {row.uuid: row.kind for row in conn.execute(_instance_kinds(), {"uuids": uuids})}
    for row, _ in rows:
        _same_kind(row["uuid"], row["kind"], stored[row["uuid"]])


@functools.cache
def _instance_kinds() -> Select[Any]:
    c = instances.c
    return select(c.uuid, c.kind).where(c.uuid.in_(bindparam("uuids", expanding=True)))


def _same_kind(uuid: str, kind: str, stored: str) -> None:
    if stored != kind:
        raise KindConflict(
            f"instance {uuid} is stored as a {stored}, and this event says it is a "
            f"{kind}: nothing was merged into it (check the event's source)"
        )


def add_participant_event(conn: Connection, row: Row) -> None:
    """The timeline is a log keyed by inbox event: a redelivery adds nothing."""
    _timeline_statement(conn.dialect).execute(conn, row)


def add_participant_events(conn: Connection, rows: Sequence[Row]) -> None:
    """`add_participant_event` for many, with one executemany."""
    if rows:
        _timeline_statement(conn.dialect).executemany(conn, rows)


def upsert_registrant(conn: Connection, row: Row) -> None:
    """The newest event (by `event_ts`) sets a registrant's status, whatever the arrival order."""
    conn.execute(_registrant_upsert(conn.dialect.name), dict(row))


def upsert_registrants(conn: Connection, rows: Sequence[Row]) -> None:
    """Many registrants in one executemany (a listing page), merged as `upsert_registrant`."""
    if rows:
        conn.execute(_registrant_upsert(conn.dialect.name), [dict(r) for r in rows])


@functools.cache
def _fetched_statement(dialect: Dialect, resource: str) -> DriverStatement:
    upsert = _fetched_upsert(dialect.name, resource)
    return DriverStatement.compile(upsert, dialect, _columns(RESOURCE_TABLES[resource]))


def upsert_fetched(
    conn: Connection,
    resource: str,
    rows: Sequence[Row],
    *,
    instance_uuid: str,
    followup_id: int,
    inbox_id: int | None,
) -> int:
    """Store one page of a follow-up's records with a single executemany; returns its size.

    The statement goes to the driver compiled once (see `service.storage.driver`).
    """
    if not rows:
        return 0
    trace = {"instance_uuid": instance_uuid, "followup_id": followup_id, "inbox_id": inbox_id}
    _fetched_statement(conn.dialect, resource).executemany(conn, ({**row, **trace} for row in rows))
    return len(rows)


#: The local-copy columns of `recording_files`: only the downloader writes them.
DOWNLOAD_COLUMNS = frozenset(
    {"download_state", "storage_uri", "bytes_stored", "sha256", "verified", "downloaded_at"}
    | {"last_error"}
)


def _newer(table: Table, insert: Any) -> Any:
    # A literal, not a bound 0: the statement goes to the driver with the columns' values only.
    return table.c.event_ts.is_(None) | (
        func.coalesce(insert.excluded.event_ts, literal_column("0")) >= table.c.event_ts
    )


def _newest_wins(dialect: str, table: Table, key: str, skip: frozenset[str]) -> Insert:
    """Upsert on `key` where the newest event (by `event_ts`) wins; a field it lacks keeps the
    value an earlier event gave, so a transcript event does not blank the rest."""
    insert = _insert(dialect, table)
    updates = {
        name: func.coalesce(insert.excluded[name], table.c[name])
        for name in _columns(table)
        if name not in skip and name != key
    }
    return insert.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[key], set_=updates, where=_newer(table, insert)
    )


@functools.cache
def _recording_statement(dialect: Dialect) -> DriverStatement:
    upsert = _newest_wins(dialect.name, recordings, "uuid", frozenset({"id", "created_at"}))
    names = [name for name in _columns(recordings) if name != "id"]
    return DriverStatement.compile(upsert, dialect, names)


@functools.cache
def _recording_file_statement(dialect: Dialect) -> DriverStatement:
    upsert = _newest_wins(dialect.name, recording_files, "id", DOWNLOAD_COLUMNS)
    return DriverStatement.compile(upsert, dialect, _columns(recording_files))


def upsert_recording(conn: Connection, row: Row, files: Sequence[Row]) -> None:
    """A recording and its files; an older or repeated delivery changes nothing, and the
    local-copy state of a file survives every redelivery."""
    upsert_recordings(conn, [(row, files)])


def upsert_recordings(conn: Connection, recorded: Sequence[tuple[Row, Sequence[Row]]]) -> None:
    """`upsert_recording` for many (recording, files), in order: one executemany for the
    recordings, one for their files (the local-copy columns, left out, are NULL on a new file
    and untouched on a stored one)."""
    if not recorded:
        return
    now = utcnow()
    rows = [{**row, "created_at": now, "updated_at": now} for row, _ in recorded]
    _recording_statement(conn.dialect).executemany(conn, rows)
    files = [{**f, "updated_at": now} for _, fs in recorded for f in fs]
    if files:
        _recording_file_statement(conn.dialect).executemany(conn, files)
