"""Putting rows back to be worked on: an inbox row to `received`, a job to `pending`.

Each UPDATE is a compare-and-set on the statuses the caller accepts, so a row that changed
since it was read is left alone. `updated_at` goes far into the past, so that any sweeper
takes the row at its next round, whatever its `ZOOMHOOKS_SWEEP_AFTER_SECONDS`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, update

from service.storage.models import followups, recording_downloads, webhook_events

#: What "long ago" means for the sweepers: older than any sweep_after could be.
STALE = datetime(2000, 1, 1, tzinfo=UTC)


def reset_events(
    conn: Connection, ids: Sequence[int], *, from_statuses: Collection[str]
) -> list[int]:
    """Back to `received` with a fresh attempt budget; returns the ids that were reset.

    `last_error` is kept, for the record, until the next attempt overwrites or clears it.
    """
    if not ids:
        return []
    c = webhook_events.c
    statement = (
        update(webhook_events)
        .where(c.id.in_(ids), c.status.in_(list(from_statuses)))
        .values(status="received", attempts=0, processed_at=None, updated_at=STALE)
        .returning(c.id)
    )
    return sorted(conn.execute(statement).scalars())


def reset_followups(
    conn: Connection, ids: Sequence[int], *, from_statuses: Collection[str]
) -> list[int]:
    """Back to `pending`, due now, with a fresh attempt budget; returns the ids reset."""
    if not ids:
        return []
    c = followups.c
    statement = (
        update(followups)
        .where(c.id.in_(ids), c.status.in_(list(from_statuses)))
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=None,
            fetched_at=None,
            updated_at=STALE,
        )
        .returning(c.id)
    )
    return sorted(conn.execute(statement).scalars())


def reset_downloads(
    conn: Connection, ids: Sequence[int], *, from_statuses: Collection[str]
) -> list[int]:
    """Recording downloads back to `pending`, due now, with a fresh attempt budget; returns
    the ids reset. A part already stored stays, so the next attempt resumes it."""
    if not ids:
        return []
    c = recording_downloads.c
    statement = (
        update(recording_downloads)
        .where(c.id.in_(ids), c.status.in_(list(from_statuses)))
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=None,
            finished_at=None,
            updated_at=STALE,
        )
        .returning(c.id)
    )
    return sorted(conn.execute(statement).scalars())
