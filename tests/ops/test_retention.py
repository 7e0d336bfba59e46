"""`zoomhooks purge`: by age per table and status, batched, never unfinished events or
instances, dry runs that delete nothing."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, update

from service.ops import purge, stats
from service.processing.live import FOLLOWUP_RESOURCES
from service.queue.purger import Purger
from service.runtime import Runtime
from service.storage import retention
from service.storage.models import (
    absentees,
    followups,
    instance_details,
    instances,
    participant_events,
    participants,
    poll_answers,
    qa_entries,
    recording_downloads,
    recording_files,
    recordings,
    registrant_answers,
    registrants,
    report_participants,
    webhook_events,
)
from service.storage.retention import PER_INSTANCE, Ages
from service.storage.types import utcnow
from tests.conftest import MakeRuntime
from tests.ops.populate import (
    Cli,
    ended,
    failed,
    ingest,
    processed,
    set_event,
    set_followup,
    started,
    statuses,
)
from tests.support import wait_until


def joined(uuid: str, n: int, email: str) -> dict[str, Any]:
    person = {
        "id": f"p{n}",
        "user_id": str(n),
        "user_name": f"Zoë {n}",
        "email": email,
        "join_time": "2024-03-01T14:05:00Z",
    }
    return {"id": "86431910364", "uuid": uuid, "participant": person}


def timeline_rows(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(participant_events)).scalar_one())


def aged(runtime: Runtime, inbox_id: int, days: int) -> None:
    set_event(runtime, inbox_id, received_at=utcnow() - timedelta(days=days))


def test_purge_deletes_old_finished_events_only_in_batches(cli: Cli, runtime: Runtime) -> None:
    old_done = [processed(runtime, "meeting.started", started(f"o{i}==")) for i in range(5)]
    old_unfinished = ingest(runtime, "meeting.started", started("u=="))
    recent = processed(runtime, "meeting.started", started("r=="))
    for inbox_id in [*old_done, old_unfinished]:
        aged(runtime, inbox_id, 40)

    dry = cli.json(purge, "--events-days", "30", "--dry-run")
    assert dry == {"dry_run": True, "rows": {"webhook_events": 5}}
    assert len(statuses(runtime)) == 7

    done = cli.json(purge, "--events-days", "30", "--batch", "2")
    assert done == {"dry_run": False, "rows": {"webhook_events": 5}}
    assert set(statuses(runtime)) == {old_unfinished, recent}


def test_purge_of_the_timeline_and_its_default_from_the_environment(
    cli: Cli, runtime: Runtime
) -> None:
    processed(runtime, "meeting.participant_joined", joined("t==", 1, "a@example.com"))
    assert timeline_rows(runtime) == 1
    # The join time is 2024-03-01: older than any retention of days.
    found = cli.json(purge, ZOOMHOOKS_RETENTION_TIMELINE_DAYS="30")
    assert found["rows"] == {"participant_events": 1}
    assert timeline_rows(runtime) == 0


def test_purge_without_an_age_says_what_to_give(cli: Cli) -> None:
    result = cli(purge)
    assert result.exit_code == 2
    assert "--events-days" in result.output and "ZOOMHOOKS_RETENTION_EVENTS_DAYS" in result.output


def test_purge_by_status_keeps_failed_events_as_long_as_asked(cli: Cli, runtime: Runtime) -> None:
    done_40 = processed(runtime, "meeting.started", started("d=="))
    failed_40 = failed(runtime, "meeting.started", started("f40=="))
    failed_100 = failed(runtime, "meeting.started", started("f100=="))
    for inbox_id, days in ((done_40, 40), (failed_40, 40), (failed_100, 100)):
        aged(runtime, inbox_id, days)

    # Without --failed-days, failed events age as the others do.
    dry = cli.json(purge, "--events-days", "30", "--dry-run")
    assert dry["rows"] == {"webhook_events": 3}
    found = cli.json(purge, "--events-days", "30", "--failed-days", "90")
    assert found["rows"] == {"webhook_events": 2}
    assert set(statuses(runtime)) == {failed_40}


def webinar(runtime: Runtime, uuid: str, *, days_ago: int) -> dict[str, int]:
    """An ended webinar with a fetched row in each table and a timeline row; its jobs."""
    end = utcnow() - timedelta(days=days_ago)
    obj = {**ended(uuid), "end_time": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
    processed(runtime, "webinar.ended", obj)
    join = {**joined(uuid, days_ago, f"{uuid}@x.org"), "id": obj["id"]}
    processed(runtime, "webinar.participant_joined", join)
    row = {"instance_uuid": uuid, "row_key": "k"}
    with runtime.engine.begin() as conn:
        conn.execute(insert(participants).values(**row, user_email=f"{uuid}@x.org"))
        conn.execute(insert(absentees).values(**row, data="{}"))
        conn.execute(insert(qa_entries).values(**row, data="{}"))
        conn.execute(insert(poll_answers).values(**row))
        conn.execute(insert(report_participants).values(**row))
        conn.execute(insert(instance_details).values(instance_uuid=uuid, data="{}"))
        jobs = conn.execute(
            select(followups.c.resource, followups.c.id).where(followups.c.instance_uuid == uuid)
        ).all()
        conn.execute(
            update(followups).where(followups.c.instance_uuid == uuid).values(status="done")
        )
    return {job.resource: job.id for job in jobs}


def rows_of(runtime: Runtime, uuid: str) -> dict[str, int]:
    with runtime.engine.connect() as conn:
        found = {
            table.name: conn.execute(
                select(func.count()).select_from(table).where(table.c.instance_uuid == uuid)
            ).scalar_one()
            for table in PER_INSTANCE
        }
        found["instances"] = conn.execute(
            select(func.count()).select_from(instances).where(instances.c.uuid == uuid)
        ).scalar_one()
    return found


def test_purge_of_instances_takes_their_fetched_rows_but_not_a_busy_one(
    cli: Cli, runtime: Runtime
) -> None:
    webinar(runtime, "old==", days_ago=400)
    busy = webinar(runtime, "busy==", days_ago=400)
    webinar(runtime, "new==", days_ago=10)
    set_followup(runtime, busy["qa"], status="pending")  # still to fetch: the instance stays
    fetched = ("participants", "absentees", "qa_entries", "poll_answers")
    jobs = len(FOLLOWUP_RESOURCES["webinar"])
    everything = {"instances": 1, "followups": jobs, "participant_events": 1} | dict.fromkeys(
        fetched, 1
    )
    everything |= dict.fromkeys(("report_participants", "instance_details"), 1)
    # The webinar number still has instances ("busy", "new"): its registrants stay.
    purged = everything | {"registrants": 0, "registrant_answers": 0}
    assert rows_of(runtime, "old==") == everything

    no_recordings = dict.fromkeys(["recordings", "recording_files", "recording_downloads"], 0)
    dry = cli.json(purge, "--instances-days", "365", "--dry-run")
    assert dry["rows"] == purged | no_recordings
    assert rows_of(runtime, "old==") == everything

    found = cli.json(purge, "--instances-days", "365", "--batch", "1")
    assert found["rows"] == purged | no_recordings
    assert set(rows_of(runtime, "old==").values()) == {0}
    assert rows_of(runtime, "busy==") == everything
    assert rows_of(runtime, "new==") == everything
    # The inbox events are another table's retention: they stay.
    assert len(statuses(runtime)) == 6


def test_a_timeline_row_is_counted_once_when_two_ages_take_it(cli: Cli, runtime: Runtime) -> None:
    webinar(runtime, "both==", days_ago=400)  # its join is 2024-03-01: old by both ages
    dry = cli.json(purge, "--instances-days", "365", "--timeline-days", "30", "--dry-run")
    done = cli.json(purge, "--instances-days", "365", "--timeline-days", "30")
    assert dry["rows"]["participant_events"] == done["rows"]["participant_events"] == 1


def test_the_scheduled_purge(runtime: Runtime) -> None:
    old = processed(runtime, "meeting.started", started("s=="))
    aged(runtime, old, 10)
    keep = processed(runtime, "meeting.started", started("k=="))
    purger = Purger(runtime.engine, Ages(events=7), interval_seconds=60)
    assert purger.tick() == {"webhook_events": 1}
    assert set(statuses(runtime)) == {keep}


def test_the_scheduled_purge_runs_only_when_configured(make_runtime: MakeRuntime) -> None:
    assert make_runtime(retention_events_days=7).purger is None  # no interval: manual only
    assert make_runtime(purge_interval_seconds=3600).purger is None  # nothing to purge
    scheduled = make_runtime(purge_interval_seconds=3600, retention_timeline_days=30).purger
    assert scheduled is not None and scheduled.interval_seconds == 3600
    by_instance = make_runtime(purge_interval_seconds=3600, retention_instances_days=400).purger
    assert by_instance is not None and by_instance.ages == Ages(instances=400)


def test_an_ops_command_never_creates_a_missing_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from another directory than serve, the relative default path names no file: say so,
    rather than answer from a new empty database."""
    monkeypatch.chdir(tmp_path)
    result = Cli({"DATABASE_URL": None, "BROKER_URL": None})(stats)
    assert result.exit_code == 1
    assert f"no database at {tmp_path.resolve() / 'data' / 'zoomhooks.sqlite3'}" in result.output
    assert "relative to the working directory" in result.output
    assert not (tmp_path / "data" / "zoomhooks.sqlite3").exists()


def test_each_batch_is_its_own_short_transaction(runtime: Runtime) -> None:
    """Ingest gets the writer between batches: 5 rows in batches of 2 are 3 commits, not 1."""
    for i in range(5):
        aged(runtime, processed(runtime, "meeting.started", started(f"b{i}==")), 40)
    commits = 0

    def count_commit(_conn: object) -> None:
        nonlocal commits
        commits += 1

    event.listen(runtime.engine, "commit", count_commit)
    try:
        found = retention.purge(runtime.engine, Ages(events=30).cutoffs(utcnow()), batch=2)
    finally:
        event.remove(runtime.engine, "commit", count_commit)
    assert found == {"webhook_events": 5}
    assert commits >= 3


@pytest.mark.postgres
def test_a_purge_skips_a_row_another_transaction_holds(
    make_runtime: MakeRuntime, postgres_url: str
) -> None:
    """A redelivery holding an old event's row never makes the purge wait (nor the other way
    round): the row is left for the next purge."""
    runtime = make_runtime(database_url=postgres_url, max_attempts=1)
    held, free = (processed(runtime, "meeting.started", started(f"h{i}==")) for i in range(2))
    for inbox_id in (held, free):
        aged(runtime, inbox_id, 40)
    done: dict[str, int] = {}
    with runtime.engine.connect() as holder:
        holder.execute(
            select(webhook_events.c.id).where(webhook_events.c.id == held).with_for_update()
        )
        purging = threading.Thread(
            target=lambda: done.update(
                retention.purge(runtime.engine, Ages(events=30).cutoffs(utcnow()))
            )
        )
        purging.start()
        purging.join(timeout=20)
        blocked = purging.is_alive()
        holder.rollback()
    purging.join()
    assert not blocked, "the purge waited for a row another transaction holds"
    assert done == {"webhook_events": 1}
    assert set(statuses(runtime)) == {held}


def test_the_scheduled_purge_runs_soon_after_start(runtime: Runtime) -> None:
    """A daily interval must not mean a first purge a day after every restart."""
    aged(runtime, processed(runtime, "meeting.started", started("soon==")), 10)
    purger = Purger(runtime.engine, Ages(events=7), interval_seconds=86400, first_after_seconds=0)
    purger.start()
    try:
        wait_until(lambda: not statuses(runtime), timeout=20)
    finally:
        purger.stop()


def recording(runtime: Runtime, uuid: str, *, days_ago: int, download: str) -> None:
    """A recording with one file and its download job, `days_ago` old."""
    now = utcnow()
    with runtime.engine.begin() as conn:
        conn.execute(
            insert(recordings).values(
                uuid=uuid, start_time=now - timedelta(days=days_ago), created_at=now, updated_at=now
            )
        )
        conn.execute(
            insert(recording_files).values(
                id=f"file-{uuid}", recording_uuid=uuid, participant_audio=False, updated_at=now
            )
        )
        conn.execute(
            insert(recording_downloads).values(
                file_id=f"file-{uuid}",
                recording_uuid=uuid,
                status=download,
                storage="file:///srv/rec",
                storage_key=f"a/{uuid}/file.mp4",
                created_at=now,
                updated_at=now,
            )
        )


def recording_rows(runtime: Runtime) -> dict[str, int]:
    with runtime.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (recordings, recording_files, recording_downloads)
        }


def test_purge_of_instances_takes_old_recordings_but_not_one_still_downloading(
    cli: Cli, runtime: Runtime
) -> None:
    recording(runtime, "old==", days_ago=400, download="done")
    recording(runtime, "downloading==", days_ago=400, download="pending")
    recording(runtime, "new==", days_ago=10, download="failed")
    one_each = {"recordings": 1, "recording_files": 1, "recording_downloads": 1}
    dry = cli.json(purge, "--instances-days", "365", "--dry-run")
    assert {k: dry["rows"][k] for k in one_each} == one_each
    found = cli.json(purge, "--instances-days", "365")
    assert {k: found["rows"][k] for k in one_each} == one_each
    assert recording_rows(runtime) == dict.fromkeys(one_each, 2)
    with runtime.engine.connect() as conn:
        left = set(conn.execute(select(recordings.c.uuid)).scalars())
    assert left == {"downloading==", "new=="}


def test_registrants_go_with_the_last_instance_of_their_webinar(cli: Cli, runtime: Runtime) -> None:
    registrant = {
        "id": "r1",
        "email": "r@x.org",
        "custom_questions": [{"title": "Q", "value": "A"}],
    }
    for number in (111, 222):  # 222 has no instance yet: a webinar still to come
        processed(runtime, "webinar.registration_created", {"id": number, "registrant": registrant})
    end = utcnow() - timedelta(days=400)
    obj = {**ended("gone=="), "id": "111", "end_time": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
    processed(runtime, "webinar.ended", obj)
    with runtime.engine.begin() as conn:
        conn.execute(update(followups).values(status="done"))
    dry = cli.json(purge, "--instances-days", "365", "--dry-run")
    assert (dry["rows"]["registrants"], dry["rows"]["registrant_answers"]) == (1, 1)
    done = cli.json(purge, "--instances-days", "365")
    assert (done["rows"]["registrants"], done["rows"]["registrant_answers"]) == (1, 1)
    with runtime.engine.connect() as conn:
        assert conn.execute(select(registrants.c.webinar_id)).scalars().all() == [222]
        assert conn.execute(select(registrant_answers.c.webinar_id)).scalars().all() == [222]
