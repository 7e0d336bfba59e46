"""The live tables' batched writes leave what the same writes one by one would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from service.storage import db, migrate, records
from service.storage.models import instances, participant_events
from service.storage.records import KindConflict


@pytest.fixture
def engine(database_url: str) -> Engine:
    made = db.create(database_url)
    migrate.upgrade(made)
    return made


def instance(uuid: str, kind: str = "meeting", **fields: Any) -> dict[str, Any]:
    return {"uuid": uuid, "kind": kind, "zoom_id": 1, **fields}


#: started, then a participant's event (no end time), ended, and a late participant's event.
SEQUENCE = [
    (instance("a==", topic="T", start_time=datetime(2024, 1, 1, 10, tzinfo=UTC)), 1),
    (instance("b==", "webinar", topic="W"), 2),
    (instance("a==", end_time=None, duration=30), 3),
    (instance("a==", end_time=datetime(2024, 1, 1, 11, tzinfo=UTC), topic="T2"), 4),
    (instance("a==", end_time=None, host_id="h"), 5),
]


def stored(engine: Engine) -> list[dict[str, Any]]:
    columns = [c for c in instances.columns if c.name not in ("id", "created_at", "updated_at")]
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(*columns).order_by("uuid"))]


def test_many_instances_merge_as_one_by_one(engine: Engine, tmp_path: Any) -> None:
    reference = db.create(f"sqlite:///{tmp_path / 'one-by-one.sqlite3'}")
    migrate.upgrade(reference)
    with reference.begin() as conn:
        for row, inbox_id in SEQUENCE:
            records.upsert_instance(conn, row, inbox_id)
    with engine.begin() as conn:
        records.upsert_instances(conn, SEQUENCE)
    assert stored(engine) == stored(reference)
    (a, _) = stored(engine)
    assert (a["topic"], a["host_id"], a["inbox_id"]) == ("T2", "h", 5)


def test_a_kind_conflict_among_many_is_raised(engine: Engine) -> None:
    with engine.begin() as conn:
        records.upsert_instance(conn, instance("w==", "webinar"), 1)
    with pytest.raises(KindConflict, match="w== is stored as a webinar"), engine.begin() as conn:
        records.upsert_instances(conn, [(instance("m=="), 2), (instance("w=="), 3)])
    assert [(r["uuid"], r["kind"]) for r in stored(engine)] == [("w==", "webinar")]


def test_many_timeline_entries_once_each(engine: Engine) -> None:
    def entry(inbox_id: int) -> dict[str, Any]:
        return {"inbox_id": inbox_id, "instance_uuid": "a==", "event": "e", "action": "joined"}

    with engine.begin() as conn:
        records.add_participant_events(conn, [entry(1), entry(2)])
        records.add_participant_events(conn, [entry(2), entry(3)])  # 2 redelivered
    with engine.connect() as conn:
        found = conn.execute(select(participant_events.c.inbox_id)).scalars().all()
    assert sorted(found) == [1, 2, 3]
