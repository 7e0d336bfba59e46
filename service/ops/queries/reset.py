"""Putting rows back to be worked on: an inbox row to `received`, a job to `pending`.

Each UPDATE is a compare-and-set on the statuses the caller accepts, so a row that changed
since it was read is left alone. `updated_at` goes far into the past, so that any sweeper
takes the row at its next round, whatever its `ZOOMHOOKS_SWEEP_AFTER_SECONDS`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, update

from service.storage.models import followups, recording_downloads, webhook_events

#: What "long ago" means for the sweepers: older than any sweep_after could be.
STALE = datetime(2000, 1, 1, tzinfo=UTC)


def _reset(
    conn: Connection,
    table: Table,
    ids: Sequence[int],
    from_statuses: Collection[str],
    values: dict[str, Any],
) -> list[int]:
    if not ids:
        return []
    c = table.c
    statement = (
        update(table)
        .where(c.id.in_(ids), c.status.in_(list(from_statuses)))
        .values(**values, attempts=0, updated_at=STALE)
        .returning(c.id)
    )
    return sorted(conn.execute(statement).scalars())


def reset_events(
    conn: Connection, ids: Sequence[int], *, from_statuses: Collection[str]
) -> list[int]:
    """Back to `received` with a fresh attempt budget; returns the ids that were reset.

    `last_error` is kept, for the record, until the next attempt overwrites or clears it.
    """
    values = {"status": "received", "processed_at": None}
    return _reset(conn, webhook_events, ids, from_statuses, values)


def reset_followups(
    conn: Connection, ids: Sequence[int], *, from_statuses: Collection[str]
) -> list[int]:
    """Back to `pending`, due now, with a fresh attempt budget; returns the ids reset."""
    values = {"status": "pending", "next_attempt_at": None, "fetched_at": None}
    return _reset(conn, followups, ids, from_statuses, values)


def reset_downloads(
    conn: Connection, ids: Sequence[int], *, from_statuses: Collection[str]
) -> list[int]:
    """Recording downloads back to `pending`, due now, with a fresh attempt budget; returns
    the ids reset. A part already stored stays, so the next attempt resumes it."""
    values = {"status": "pending", "next_attempt_at": None, "finished_at": None}
    return _reset(conn, recording_downloads, ids, from_statuses, values)
