"""Registrants from Zoom's listing and their custom-question answers; instance numbers.

Live registration events (`service.processing.live`) and the registrants follow-up both write
through `records.upsert_registrant(s)`, which merges them into one row per (webinar number,
registrant id). Answers are keyed by (webinar, registrant, question title): a redelivery or a
second listing updates them in place.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from service.storage import records
from service.storage.models import instance_details, instances, registrant_answers

Row = dict[str, Any]


@functools.cache
def _answer_upsert(dialect: str) -> Insert:
    module = postgresql if dialect == "postgresql" else sqlite
    insert = module.insert(registrant_answers)
    return insert.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=["webinar_id", "registrant_id", "title"],
        set_={"value": insert.excluded.value},
    )


def upsert_answers(conn: Connection, rows: Sequence[Row]) -> int:
    if rows:
        conn.execute(_answer_upsert(conn.dialect.name), list(rows))
    return len(rows)


def store_listed(
    conn: Connection, rows: Sequence[Row], answers: Sequence[Row], *, followup_id: int
) -> int:
    """One page of the registrants listing; returns how many registrants it held."""
    records.upsert_registrants(conn, [{**row, "followup_id": followup_id} for row in rows])
    upsert_answers(conn, answers)
    return len(rows)


def instance_number(conn: Connection, uuid: str) -> int | None:
    """The meeting or webinar number of an instance, from its events or its report details."""
    found = conn.execute(select(instances.c.zoom_id).where(instances.c.uuid == uuid)).scalar()
    if found is None:
        found = conn.execute(
            select(instance_details.c.zoom_id).where(instance_details.c.instance_uuid == uuid)
        ).scalar()
    return int(found) if found is not None else None


#: Columns of `instances` the report details fill when no event has.
FILLED_FROM_DETAILS = ("zoom_id", "topic", "type", "start_time", "end_time", "duration")


def fill_instance(conn: Connection, uuid: str, details: Row) -> None:
    """Fill the instance's blanks from its report details (a backfilled instance has few);
    what events said stays."""
    c = instances.c
    values = {
        name: func.coalesce(c[name], literal(details[name], c[name].type))
        for name in FILLED_FROM_DETAILS
        if details.get(name) is not None
    }
    if values:
        conn.execute(update(instances).where(c.uuid == uuid).values(values))
