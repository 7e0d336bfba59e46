"""The live tables' batched writes leave what the same writes one by one would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from service.storage import db, migrate, records
from service.storage.models import instances, participant_events, recording_files, recordings
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


def recording(event_ts: int, **fields: Any) -> dict[str, Any]:
    return {"uuid": "r==", "event_ts": event_ts, "inbox_id": event_ts, **fields}


def file(event_ts: int, **fields: Any) -> dict[str, Any]:
    keys = {"id": "f1", "recording_uuid": "r==", "participant_audio": False}
    return {**keys, "event_ts": event_ts, **fields}


#: The transcript event (newer, fewer fields), the completed event late, then a redelivery.
RECORDINGS = [
    (recording(20, download_token="t20"), [file(20)]),
    (recording(10, topic="T", download_token="t10", total_size=5), [file(10)]),
    (recording(30, host_id="h"), [file(30, status="completed", file_size=7)]),
]


def recordings_stored(engine: Engine) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for table in (recordings, recording_files):
            skip = ("id", "pk", "created_at", "updated_at")
            columns = [c for c in table.columns if c.name not in skip]
            found.extend(dict(r._mapping) for r in conn.execute(select(*columns)))
    return found


def test_many_recordings_merge_as_one_by_one(engine: Engine, tmp_path: Any) -> None:
    reference = db.create(f"sqlite:///{tmp_path / 'one-by-one.sqlite3'}")
    migrate.upgrade(reference)
    for row, files in RECORDINGS:
        with reference.begin() as conn:
            records.upsert_recording(conn, row, files)
    with engine.begin() as conn:
        records.upsert_recordings(conn, RECORDINGS)
    found = recordings_stored(engine)
    assert found == recordings_stored(reference)
    rec = found[0]
    # The newest wins; what it lacks, earlier events filled in.
    assert (rec["download_token"], rec["host_id"], rec["event_ts"]) == ("t20", "h", 30)
    assert found[1]["status"] == "completed" and found[1]["download_state"] is None
