"""Backfill fetches cloud recordings: meetings and webinars, over real HTTP against the fake Zoom,
merged with the recording webhooks (newest wins), downloads queued as a webhook's are, no
recording as done with 0 rows, a missing scope named, a 429 waited out."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from service.cli import main
from service.devtools.fakezoom import DEFAULT_ACCOUNT_ID, FakeZoom, Instance, RunningFake, running
from service.devtools.fakezoom.recfiles import content
from service.processing.followup import Later
from service.processing.sources import Recordings
from service.runtime import Runtime
from service.storage.models import followups, recording_downloads, recording_files, recordings
from tests.conftest import MakeRuntime
from tests.processing.test_backfill import cli_env
from tests.processing.test_live import deliver
from tests.support import WEBHOOKS

MEETING_ID = 93398114182
WEBINAR_ID = 81234567890
DOUBLE = "/ajXp112QmuoKj4854875=="  # Zoom wants it encoded twice


def recording_jobs(runtime: Runtime) -> dict[str, dict[str, Any]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(followups).where(followups.c.resource == "recordings")).all()
    return {row.instance_uuid: dict(row._mapping) for row in rows}


def files_of(runtime: Runtime, uuid: str) -> dict[str, dict[str, Any]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            select(recording_files).where(recording_files.c.recording_uuid == uuid)
        ).all()
    return {row.id: dict(row._mapping) for row in rows}


def recording_of(runtime: Runtime, uuid: str) -> dict[str, Any]:
    with runtime.engine.connect() as conn:
        row = conn.execute(select(recordings).where(recordings.c.uuid == uuid)).one()
    return dict(row._mapping)


def backfill(runtime: Runtime, kind: str, id_or_uuid: str) -> list[int]:
    """What `zoomhooks backfill` does, in this process: the jobs of every instance, run."""
    jobs: list[int] = []
    for instance in runtime.backfiller.instances(kind, id_or_uuid):
        runtime.backfiller.create(instance)
        jobs += runtime.backfiller.jobs_of([instance.uuid])
    for job in jobs:
        assert runtime.runner.run(job) is None
    return jobs


def test_backfill_by_number_stores_each_instances_recording(
    make_runtime: MakeRuntime,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
    database_url: str,
) -> None:
    runtime = make_runtime(database_url=database_url, **zoom_settings)
    world = fake_zoom.fake.world
    first = world.add_webinar(WEBINAR_ID, participants=3)
    second = world.add_webinar(WEBINAR_ID, participants=2)
    world.add_recording(first, ("MP4", "M4A", "TRANSCRIPT", "CC"), participant_audio=2)
    world.add_recording(second, ("M4A",))
    result = CliRunner().invoke(
        main, ["backfill", "webinar", str(WEBINAR_ID)], env=cli_env(runtime, zoom_settings)
    )
    assert result.exit_code == 0, result.output
    assert "recordings done 2" in result.output
    jobs = recording_jobs(runtime)
    # MP4, M4A, TRANSCRIPT and two participant audio files; CC has no id, so nothing to keep.
    assert (jobs[first.uuid]["status"], jobs[first.uuid]["rows_stored"]) == ("done", 1 + 5)
    assert (jobs[second.uuid]["status"], jobs[second.uuid]["rows_stored"]) == ("done", 1 + 1)
    stored = recording_of(runtime, first.uuid)
    served = fake_zoom.fake.world.recording(first.uuid)
    assert served is not None
    assert (stored["zoom_id"], stored["type"], stored["account_id"]) == (
        WEBINAR_ID,
        5,
        DEFAULT_ACCOUNT_ID,
    )
    assert stored["total_size"] == served.total_size
    assert stored["inbox_id"] is None and stored["download_token"]
    files = files_of(runtime, first.uuid)
    wanted = {f.key: f for f in served.files if f.file_type != "CC"}
    assert set(files) == set(wanted)
    for file_id, row in files.items():
        assert row["file_size"] == wanted[file_id].size
        assert row["participant_audio"] is wanted[file_id].participant_audio
        assert row["download_url"].endswith(f"/rec/download/{file_id}")
        assert row["download_state"] is None  # no storage configured: no downloads
    assert fake_zoom.fake.calls("recordingGet", status=200) == 2


@pytest.mark.parametrize("kind", ["meeting", "webinar"])
def test_a_recording_less_instance_is_done_with_no_rows(
    make_runtime: MakeRuntime,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
    kind: str,
) -> None:
    runtime = make_runtime(**zoom_settings)
    world = fake_zoom.fake.world
    add = world.add_meeting if kind == "meeting" else world.add_webinar
    bare = add(MEETING_ID, DOUBLE, participants=2)  # 3301 "There is no recording"
    gone = add(MEETING_ID, participants=1)
    world.add_recording(gone)
    # Any 404 at the recordings endpoint means no recording, never "not ready yet".
    fake_zoom.fake.faults.not_ready(
        "/v2/meetings/{meetingId}/recordings", count=1, skip=1, status=404
    )
    backfill(runtime, kind, str(MEETING_ID))
    jobs = recording_jobs(runtime)
    for inst in (bare, gone):
        job = jobs[inst.uuid]
        assert (job["status"], job["rows_stored"], job["last_error"]) == ("done", 0, None)
        assert job["attempts"] == 1
    assert fake_zoom.fake.log.records("recordingGet")[0].code == 3301
    assert "%252F" in fake_zoom.fake.log.records("recordingGet")[0].raw_path
    with runtime.engine.connect() as conn:
        assert conn.execute(select(recordings.c.uuid)).all() == []


def webhook(server: RunningFake, inst: Instance, *, event_ts: int, token: str) -> bytes:
    """recording.completed for `inst`, carrying the files the fake serves for it."""
    data = json.loads((WEBHOOKS / "recording.completed.json").read_text(encoding="utf-8"))
    served = server.fake.world.recording(inst.uuid)
    assert served is not None
    data["event_ts"] = event_ts
    data["download_token"] = token
    data["payload"]["account_id"] = DEFAULT_ACCOUNT_ID
    obj = data["payload"]["object"]
    obj.update(uuid=inst.uuid, id=inst.id, account_id=DEFAULT_ACCOUNT_ID)
    obj["recording_files"] = [
        {
            "id": f.key,
            "file_type": f.file_type,
            "file_extension": f.file_type,
            "file_size": f.size,
            "download_url": f"{server.base_url}/rec/download/{f.key}?from=webhook",
            "status": "completed",
        }
        for f in served.files
    ]
    obj["participant_audio_files"] = []
    return json.dumps(data).encode()


def test_a_fetch_and_the_webhooks_merge_and_the_newest_wins(
    make_runtime: MakeRuntime,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
    database_url: str,
) -> None:
    runtime = make_runtime(database_url=database_url, **zoom_settings)
    inst = fake_zoom.fake.world.add_meeting(MEETING_ID, participants=1)
    served = fake_zoom.fake.world.add_recording(inst, ("MP4", "M4A"))
    video = served.files[0].key
    hour_ago = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)
    deliver(runtime, webhook(fake_zoom, inst, event_ts=hour_ago, token="webhook-token"))
    local = {"download_state": "stored", "storage_uri": "file:///srv/x.mp4", "verified": True}
    with runtime.engine.begin() as conn:
        conn.execute(update(recording_files).where(recording_files.c.id == video).values(local))
    before = recording_of(runtime, inst.uuid)

    backfill(runtime, "meeting", inst.uuid)  # a later fetch: newer than the webhook
    fetched = recording_of(runtime, inst.uuid)
    assert fetched["event_ts"] > hour_ago
    assert fetched["download_token"] not in (None, "webhook-token")  # Zoom's fresh one
    # What the API does not send stays as the webhook gave it; what it sends wins.
    assert (fetched["host_email"], fetched["share_url"], fetched["timezone"]) == (
        before["host_email"],
        before["share_url"],
        before["timezone"],
    )
    assert fetched["inbox_id"] == before["inbox_id"]
    assert fetched["topic"] == inst.topic
    row = files_of(runtime, inst.uuid)[video]
    assert not row["download_url"].endswith("from=webhook")
    assert row["recording_type"] == "shared_screen_with_speaker_view"
    assert {k: row[k] for k in local} == local  # the local copy is the downloader's alone

    # A late redelivery of the older webhook changes nothing; a newer one wins.
    deliver(runtime, webhook(fake_zoom, inst, event_ts=hour_ago, token="stale"))
    assert recording_of(runtime, inst.uuid)["download_token"] == fetched["download_token"]
    now = int(datetime.now(UTC).timestamp() * 1000) + 1000
    deliver(runtime, webhook(fake_zoom, inst, event_ts=now, token="newest"))
    assert recording_of(runtime, inst.uuid)["download_token"] == "newest"
    assert files_of(runtime, inst.uuid)[video]["download_url"].endswith("from=webhook")

    # A second backfill of the same recording (its job re-run) adds no row.
    with runtime.engine.begin() as conn:
        conn.execute(followups.delete().where(followups.c.resource == "recordings"))
    backfill(runtime, "meeting", inst.uuid)
    assert len(files_of(runtime, inst.uuid)) == 2
    with runtime.engine.connect() as conn:
        assert len(conn.execute(select(recordings.c.uuid)).all()) == 1


def test_with_storage_the_backfill_queues_and_the_worker_downloads(
    make_runtime: MakeRuntime,
    zoom_settings: dict[str, Any],
    fake_zoom: RunningFake,
    tmp_path: Path,
    database_url: str,
) -> None:
    root = tmp_path / "recordings"
    runtime = make_runtime(
        database_url=database_url,
        **zoom_settings,
        recordings_storage=root.as_uri(),
        recordings_file_types="MP4,M4A",
    )
    inst = fake_zoom.fake.world.add_webinar(WEBINAR_ID, participants=1)
    served = fake_zoom.fake.world.add_recording(inst, ("MP4", "CHAT"), participant_audio=1)
    source = runtime.runner.sources[("webinar", "recordings")]
    assert isinstance(source, Recordings) and source.downloads is not None
    scheduled: list[int] = []
    source.downloads.schedule = lambda job_id, _at: scheduled.append(job_id)
    backfill(runtime, "webinar", inst.uuid)
    with runtime.engine.connect() as conn:
        queued = {r.file_id: r for r in conn.execute(select(recording_downloads)).all()}
    wanted = {f.key: f for f in served.files if f.file_type in ("MP4", "M4A")}  # not CHAT
    assert set(queued) == set(wanted)
    assert sorted(scheduled) == sorted(r.id for r in queued.values())  # after the commit
    assert {r.inbox_id for r in queued.values()} == {None}
    assert {r.account_id for r in queued.values()} == {DEFAULT_ACCOUNT_ID}
    assert runtime.download_runner is not None
    for job in queued.values():
        assert runtime.download_runner.run(job.id) is None
    for file_id, f in wanted.items():
        row = files_of(runtime, inst.uuid)[file_id]
        assert row["download_state"] == "stored" and row["verified"] is True
        assert row["sha256"] == hashlib.sha256(content(file_id, 0, f.size)).hexdigest()
    # The fetched download_access_token did it, as a webhook's download_token would.
    assert fake_zoom.fake.recording_files.count(auth="download_token") == len(wanted)


def test_a_missing_recording_scope_fails_the_job_naming_it(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any]
) -> None:
    fake = FakeZoom()
    fake.withheld_scopes = frozenset(fake.spec.operation("recordingGet").scopes)
    with running(fake) as served:
        urls = {"zoom_api_base_url": served.api_url, "zoom_oauth_url": served.oauth_url}
        runtime = make_runtime(**(zoom_settings | urls))
        inst = fake.world.add_meeting(MEETING_ID, participants=2)
        fake.world.add_recording(inst)
        backfill(runtime, "meeting", str(MEETING_ID))
    job = recording_jobs(runtime)[inst.uuid]
    assert job["status"] == "failed" and job["attempts"] == 1
    error = job["last_error"]
    assert "cloud_recording:read:list_recording_files:admin" in error
    assert "recording:read:admin" in error
    with runtime.engine.connect() as conn:
        others = conn.execute(
            select(followups.c.status).where(followups.c.resource != "recordings")
        ).scalars()
        assert set(others) == {"done"}
    assert fake.calls("recordingGet") == 1  # not retried: an operator must act


def test_a_429_waits_without_spending_an_attempt(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    inst = fake_zoom.fake.world.add_meeting(MEETING_ID, participants=1)
    fake_zoom.fake.world.add_recording(inst, ("M4A",))
    fake_zoom.fake.faults.rate_limit(
        "/v2/meetings/{meetingId}/recordings", count=1, rate_limit_type="Daily-limit"
    )
    (found,) = runtime.backfiller.instances("meeting", inst.uuid)
    runtime.backfiller.create(found)
    job = recording_jobs(runtime)[inst.uuid]["id"]
    later = runtime.runner.run(job)
    assert isinstance(later, Later)
    waiting = recording_jobs(runtime)[inst.uuid]
    assert (waiting["status"], waiting["attempts"]) == ("pending", 0)
    with runtime.engine.begin() as conn:
        conn.execute(update(followups).where(followups.c.id == job).values(next_attempt_at=None))
    from service.governor import MemoryStateStore

    runtime.governor.store = MemoryStateStore()  # as if the day had passed
    assert runtime.runner.run(job) is None
    done = recording_jobs(runtime)[inst.uuid]
    assert (done["status"], done["rows_stored"], done["attempts"]) == ("done", 2, 1)


def test_the_backfill_command_says_what_it_queued_for_download(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake, tmp_path: Path
) -> None:
    root = tmp_path / "recordings"
    runtime = make_runtime(**zoom_settings, recordings_storage=root.as_uri())
    inst = fake_zoom.fake.world.add_meeting(MEETING_ID, participants=1)
    fake_zoom.fake.world.add_recording(inst, ("MP4", "M4A"))
    env = cli_env(runtime, zoom_settings) | {"ZOOMHOOKS_RECORDINGS_STORAGE": root.as_uri()}
    result = CliRunner().invoke(main, ["backfill", "meeting", inst.uuid], env=env)
    assert result.exit_code == 0, result.output
    assert "recordings done 1" in result.output
    assert "2 recording downloads queued for the workers (`serve` picks them up" in result.output
    with runtime.engine.connect() as conn:
        states = conn.execute(select(recording_downloads.c.status)).scalars().all()
    assert states == ["pending", "pending"]  # for the sweeper of `serve` (this CLI is embedded)
