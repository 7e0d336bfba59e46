"""Reading the follow-up jobs, `followups`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, RowMapping, select

from service.storage.models import followups


@dataclass(frozen=True, slots=True)
class FollowupFilter:
    status: str | None = None
    resource: str | None = None
    instance: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _where(f: FollowupFilter) -> list[ColumnElement[bool]]:
    c = followups.c
    found: list[ColumnElement[bool]] = []
    if f.status is not None:
        found.append(c.status == f.status)
    if f.resource is not None:
        found.append(c.resource == f.resource)
    if f.instance is not None:
        found.append(c.instance_uuid == f.instance)
    if f.since is not None:
        found.append(c.created_at >= f.since)
    if f.until is not None:
        found.append(c.created_at < f.until)
    return found


def list_followups(conn: Connection, f: FollowupFilter, *, limit: int) -> list[RowMapping]:
    """Matching jobs, newest first."""
    c = followups.c
    query = select(followups).where(*_where(f)).order_by(c.id.desc()).limit(limit)
    return list(conn.execute(query).mappings())


def get_followup(conn: Connection, followup_id: int) -> RowMapping | None:
    query = select(followups).where(followups.c.id == followup_id)
    return conn.execute(query).mappings().one_or_none()


def failed_ids(conn: Connection, f: FollowupFilter) -> Sequence[int]:
    """Ids of `failed` jobs matching `f` (its status is ignored), oldest first."""
    failed = FollowupFilter(
        status="failed", resource=f.resource, instance=f.instance, since=f.since, until=f.until
    )
    query = select(followups.c.id).where(*_where(failed)).order_by(followups.c.id)
    return list(conn.execute(query).scalars())
