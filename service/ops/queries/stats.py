"""The numbers behind `zoomhooks stats`: backlog, lag, recent volume, failures, follow-ups.

"Now" is passed in (and bound as a parameter), never the database's clock, so SQLite and
PostgreSQL answer the same and the tests can pin it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, case, func, literal_column, select

from service.storage.models import (
    FOLLOWUP_STATUSES,
    RESOURCES,
    STATUSES,
    UNFINISHED,
    followups,
    webhook_events,
    zoom_api_usage,
)

#: Failures are grouped by this many leading characters of `last_error`.
ERROR_PREFIX = 60
#: How many failure groups are shown.
TOP_FAILURES = 5


@dataclass(frozen=True, slots=True)
class Failure:
    prefix: str | None
    count: int


@dataclass(slots=True)
class Stats:
    now: datetime
    inbox: dict[str, int]
    received_last_hour: int
    received_last_day: int
    oldest_unfinished: dict[str, Any] | None
    failures: list[Failure] = field(default_factory=list)
    followups: dict[str, dict[str, int]] = field(default_factory=dict)
    followup_failures: list[Failure] = field(default_factory=list)
    oldest_due_followup: dict[str, Any] | None = None
    #: account → category → Zoom API calls today (UTC).
    zoom_today: dict[str, dict[str, int]] = field(default_factory=dict)


def inbox_counts(conn: Connection) -> dict[str, int]:
    c = webhook_events.c
    rows = conn.execute(select(c.status, func.count()).group_by(c.status)).all()
    found: dict[str, int] = {str(status): int(count) for status, count in rows}
    # Every known status, zeros included; an unknown one (a newer version's) is kept too.
    return {s: found.get(s, 0) for s in (*STATUSES, *sorted(set(found) - set(STATUSES)))}


def received_since(conn: Connection, *, now: datetime) -> tuple[int, int]:
    """Events received in the last hour and in the last day."""
    c = webhook_events.c
    hour, day = now - timedelta(hours=1), now - timedelta(days=1)
    row = conn.execute(
        select(
            func.coalesce(func.sum(case((c.received_at >= hour, 1), else_=0)), 0),
            func.count(),
        ).where(c.received_at >= day)
    ).one()
    return int(row[0]), int(row[1])


def oldest_unfinished(conn: Connection, *, now: datetime) -> dict[str, Any] | None:
    c = webhook_events.c
    row = (
        conn.execute(
            select(c.id, c.event, c.status, c.received_at)
            .where(c.status.in_(UNFINISHED))
            .order_by(c.received_at, c.id)
            .limit(1)
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        return None
    return {**row, "age_seconds": (now - row["received_at"]).total_seconds()}


def failures(
    conn: Connection, *, table: Table = webhook_events, top: int = TOP_FAILURES
) -> list[Failure]:
    """`failed` rows of the inbox (or the follow-ups) grouped by the start of their
    `last_error`, largest groups first."""
    c = table.c
    # Literal arguments: bound ones would differ between SELECT and GROUP BY on PostgreSQL.
    prefix = func.substr(c.last_error, literal_column("1"), literal_column(str(ERROR_PREFIX)))
    count = func.count()
    rows = conn.execute(
        select(prefix, count)
        .where(c.status == "failed")
        .group_by(prefix)
        .order_by(count.desc(), prefix)
        .limit(top)
    ).all()
    return [Failure(prefix=row[0], count=int(row[1])) for row in rows]


def followup_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """resource → status → jobs, every known resource and status present (zeros included)."""
    c = followups.c
    rows = conn.execute(select(c.resource, c.status, func.count()).group_by(c.resource, c.status))
    matrix = {r: dict.fromkeys(FOLLOWUP_STATUSES, 0) for r in RESOURCES}
    for resource, status, count in rows:
        matrix.setdefault(resource, dict.fromkeys(FOLLOWUP_STATUSES, 0))[status] = int(count)
    return matrix


def oldest_due_followup(conn: Connection, *, now: datetime) -> dict[str, Any] | None:
    """The `pending` job that has been due longest: one retried by hand (due at once,
    `next_attempt_at` NULL) first, then by `next_attempt_at`."""
    c = followups.c
    row = (
        conn.execute(
            select(
                c.id,
                c.resource,
                c.instance_uuid,
                c.attempts,
                c.next_attempt_at,
                c.last_error,
            )
            .where(
                c.status == "pending",
                c.next_attempt_at.is_(None) | (c.next_attempt_at <= now),
            )
            .order_by(case((c.next_attempt_at.is_(None), 0), else_=1), c.next_attempt_at, c.id)
            .limit(1)
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        return None
    due = row["next_attempt_at"]
    overdue = None if due is None else (now - due).total_seconds()
    return {**row, "overdue_seconds": overdue}


def collect(conn: Connection, *, now: datetime) -> Stats:
    hour, day = received_since(conn, now=now)
    return Stats(
        now=now,
        inbox=inbox_counts(conn),
        received_last_hour=hour,
        received_last_day=day,
        oldest_unfinished=oldest_unfinished(conn, now=now),
        failures=failures(conn),
        followups=followup_counts(conn),
        followup_failures=failures(conn, table=followups),
        oldest_due_followup=oldest_due_followup(conn, now=now),
        zoom_today=zoom_calls(conn, day=now.date()),
    )


def zoom_calls(conn: Connection, *, day: date) -> dict[str, dict[str, int]]:
    c = zoom_api_usage.c
    found: dict[str, dict[str, int]] = {}
    for account, category, calls in conn.execute(
        select(c.account_id, c.category, c.calls).where(c.day == day)
    ):
        found.setdefault(str(account), {})[str(category)] = int(calls)
    return found
