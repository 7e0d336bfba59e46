"""Recording downloads against the fake Zoom over real HTTP, into a real directory: download and
verify, resume, size mismatch, token expiry and fallback, redelivery, unreachable storage."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from service.devtools.fakezoom import DEFAULT_ACCOUNT_ID, FakeZoom, RunningFake
from service.devtools.fakezoom.recfiles import content
from service.objectstore import object_key
from service.processing.followup import Later
from service.runtime import Runtime
from service.storage.models import recording_downloads, recording_files, recordings, webhook_events
from tests.conftest import MakeRuntime
from tests.processing.test_live import deliver
from tests.support import WEBHOOKS

COMPLETED = WEBHOOKS / "recording.completed.json"
UUID = "4444AAAiAAAAAiAiAiiAii=="
AUDIO, VIDEO, PARTICIPANT_AUDIO = (
    "ed6c2f27-2ae7-42f4-b3d0-835b493e4fa8",
    "388ffb46-1541-460d-8447-4624451a1db7",
    "2af3b4b2-d5ad-4b5b-9be2-81b429206b27",
)
SIZES = {AUDIO: 246_560, VIDEO: 282_825, PARTICIPANT_AUDIO: 100_000}
DAY_MS = 24 * 60 * 60 * 1000


def event(
    server: RunningFake,
    *,
    token: str,
    event_ts: int | None = None,
    sizes: dict[str, int] | None = None,
) -> bytes:
    """The recording.completed sample, its files served by the fake, for the fake's account."""
    data = json.loads(COMPLETED.read_text(encoding="utf-8"))
    data["download_token"] = token
    data["event_ts"] = event_ts if event_ts is not None else int(time.time() * 1000)
    obj = data["payload"]["object"]
    data["payload"]["account_id"] = obj["account_id"] = DEFAULT_ACCOUNT_ID
    sizes = sizes or SIZES
    for f in [*obj["recording_files"], *obj["participant_audio_files"]]:
        f["download_url"] = f"{server.base_url}/rec/download/{f['id']}"
        f["file_size"] = sizes[f["id"]]
    return json.dumps(data, separators=(",", ":")).encode()


def serve_files(fake: FakeZoom, sizes: dict[str, int] | None = None) -> None:
    for file_id, size in (sizes or SIZES).items():
        fake.recording_files.add(file_id, size)


def jobs(runtime: Runtime) -> dict[str, dict[str, Any]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(recording_downloads)).all()
    return {row.file_id: dict(row._mapping) for row in rows}


def file_row(runtime: Runtime, file_id: str) -> dict[str, Any]:
    with runtime.engine.connect() as conn:
        row = conn.execute(select(recording_files).where(recording_files.c.id == file_id)).one()
    return dict(row._mapping)


def token_stored(runtime: Runtime) -> str | None:
    with runtime.engine.connect() as conn:
        value: str | None = conn.execute(select(recordings.c.download_token)).scalar_one()
    return value


def run(runtime: Runtime, file_id: str) -> Later | None:
    assert runtime.download_runner is not None
    return runtime.download_runner.run(jobs(runtime)[file_id]["id"])


def due_now(runtime: Runtime) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(update(recording_downloads).values(next_attempt_at=None))


def digest(file_id: str, size: int) -> str:
    return hashlib.sha256(content(file_id, 0, size)).hexdigest()


def stored(root: Path, file_id: str, ext: str) -> Path:
    return root.joinpath(*object_key(DEFAULT_ACCOUNT_ID, UUID, file_id, ext).split("/"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "recordings"


@pytest.fixture
def make(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], root: Path
) -> Callable[..., Runtime]:
    def build(**overrides: Any) -> Runtime:
        values = {**zoom_settings, "recordings_storage": root.as_uri(), **overrides}
        runtime = make_runtime(**values)
        assert runtime.download_runner is not None
        runtime.download_runner.retry_base = runtime.download_runner.retry_cap = 0.01
        return runtime

    return build


def test_each_file_is_downloaded_verified_and_recorded(
    make: Callable[..., Runtime], fake_zoom: RunningFake, root: Path, database_url: str
) -> None:
    runtime = make(database_url=database_url)
    fake = fake_zoom.fake
    serve_files(fake)
    deliver(runtime, event(fake_zoom, token=fake.recording_files.mint_token()))
    assert set(jobs(runtime)) == set(SIZES)
    assert file_row(runtime, VIDEO)["download_state"] == "pending"
    for file_id in SIZES:
        assert run(runtime, file_id) is None
    for file_id, ext in ((AUDIO, "m4a"), (VIDEO, "mp4"), (PARTICIPANT_AUDIO, "m4a")):
        path = stored(root, file_id, ext)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest(file_id, SIZES[file_id])
        job = jobs(runtime)[file_id]
        assert (job["status"], job["verified_size"], job["auth"]) == (
            "done",
            SIZES[file_id],
            "download_token",
        )
        row = file_row(runtime, file_id)
        assert row["download_state"] == "stored"
        assert row["storage_uri"] == path.as_uri()
        assert row["sha256"] == digest(file_id, SIZES[file_id])
        assert row["verified"] is True
    assert not list(root.rglob("*.part"))
    # Every file is stored: the recording's download_token (a secret) is of no more use.
    assert token_stored(runtime) is None
    assert fake.recording_files.count(auth="download_token") == 3


def test_an_interrupted_transfer_resumes_with_a_range_request(
    make: Callable[..., Runtime], fake_zoom: RunningFake, root: Path
) -> None:
    runtime = make()
    fake = fake_zoom.fake
    serve_files(fake)
    fake.recording_files.cut_next(VIDEO, 100_000)
    deliver(runtime, event(fake_zoom, token=fake.recording_files.mint_token()))
    later = run(runtime, VIDEO)
    assert isinstance(later, Later)
    job = jobs(runtime)[VIDEO]
    assert (job["status"], job["bytes_stored"], job["attempts"]) == ("pending", 100_000, 1)
    part = stored(root, VIDEO, "mp4").with_name(stored(root, VIDEO, "mp4").name + ".part")
    assert part.stat().st_size == 100_000
    due_now(runtime)
    assert run(runtime, VIDEO) is None
    starts = [d.start for d in fake.recording_files.downloads if d.file_id == VIDEO]
    assert starts == [0, 100_000]
    assert [d.status for d in fake.recording_files.downloads if d.file_id == VIDEO] == [200, 206]
    data = stored(root, VIDEO, "mp4").read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest(VIDEO, SIZES[VIDEO])
    assert file_row(runtime, VIDEO)["sha256"] == digest(VIDEO, SIZES[VIDEO])


def test_a_size_mismatch_fails_the_attempt_and_restarts_clean(
    make: Callable[..., Runtime], fake_zoom: RunningFake, root: Path
) -> None:
    runtime = make()
    fake = fake_zoom.fake
    serve_files(fake)
    fake.recording_files.add(VIDEO, SIZES[VIDEO], served_size=SIZES[VIDEO] - 10)
    deliver(runtime, event(fake_zoom, token=fake.recording_files.mint_token()))
    assert isinstance(run(runtime, VIDEO), Later)
    job = jobs(runtime)[VIDEO]
    assert job["status"] == "pending"
    assert "size mismatch" in job["last_error"]
    assert f"{SIZES[VIDEO] - 10} bytes" in job["last_error"]
    assert not stored(root, VIDEO, "mp4").exists()
    part = stored(root, VIDEO, "mp4").with_name(stored(root, VIDEO, "mp4").name + ".part")
    assert part.stat().st_size == 0  # restarted: the next attempt fetches from the start
    fake.recording_files.add(VIDEO, SIZES[VIDEO])  # Zoom serves the whole file again
    due_now(runtime)
    assert run(runtime, VIDEO) is None
    assert [d.start for d in fake.recording_files.downloads if d.file_id == VIDEO] == [0, 0]
    assert jobs(runtime)[VIDEO]["status"] == "done"


def test_after_24_hours_the_oauth_token_is_used(
    make: Callable[..., Runtime], fake_zoom: RunningFake
) -> None:
    runtime = make()
    fake = fake_zoom.fake
    serve_files(fake)
    day_old = int(time.time() * 1000) - DAY_MS - 60_000
    deliver(runtime, event(fake_zoom, token=fake.recording_files.mint_token(), event_ts=day_old))
    assert run(runtime, AUDIO) is None
    assert jobs(runtime)[AUDIO]["auth"] == "oauth"
    assert fake.recording_files.count(AUDIO, auth="oauth") == 1
    assert fake.recording_files.count(AUDIO, auth="download_token") == 0
    assert not [d for d in fake.recording_files.downloads if d.auth is None]


def test_a_refused_download_token_falls_back_to_oauth(
    make: Callable[..., Runtime], fake_zoom: RunningFake
) -> None:
    runtime = make()
    fake = fake_zoom.fake
    serve_files(fake)
    deliver(runtime, event(fake_zoom, token=fake.recording_files.mint_token()))
    fake.recording_files.expire_tokens()
    assert run(runtime, AUDIO) is None
    assert [(d.auth, d.status) for d in fake.recording_files.downloads] == [
        (None, 401),
        ("oauth", 200),
    ]
    assert jobs(runtime)[AUDIO]["auth"] == "oauth"


def test_an_expired_token_without_credentials_fails_with_the_fix(
    make: Callable[..., Runtime], fake_zoom: RunningFake
) -> None:
    runtime = make(zoom_client_id=None, zoom_client_secret=None)
    fake = fake_zoom.fake
    serve_files(fake)
    day_old = int(time.time() * 1000) - DAY_MS - 60_000
    deliver(runtime, event(fake_zoom, token=fake.recording_files.mint_token(), event_ts=day_old))
    assert run(runtime, AUDIO) is None
    job = jobs(runtime)[AUDIO]
    assert job["status"] == "failed"
    assert "download_token has expired" in job["last_error"]
    assert file_row(runtime, AUDIO)["download_state"] == "failed"
    assert fake.recording_files.count() == 0


def test_a_redelivery_fetches_nothing_done_and_retries_what_failed(
    make: Callable[..., Runtime], fake_zoom: RunningFake
) -> None:
    runtime = make()
    fake = fake_zoom.fake
    serve_files(fake, {AUDIO: SIZES[AUDIO], PARTICIPANT_AUDIO: SIZES[PARTICIPANT_AUDIO]})
    deliver(runtime, event(fake_zoom, token=fake.recording_files.mint_token()))
    for file_id in SIZES:
        run(runtime, file_id)
    found = jobs(runtime)
    assert found[AUDIO]["status"] == "done"
    assert found[VIDEO]["status"] == "failed"  # the fake did not know the file: 404
    assert "404" in found[VIDEO]["last_error"]
    served = fake.recording_files.count()
    # Zoom redelivers (a new download_token); the video is there now.
    fake.recording_files.add(VIDEO, SIZES[VIDEO])
    fresh = fake.recording_files.mint_token()
    deliver(runtime, event(fake_zoom, token=fresh))
    again = jobs(runtime)
    assert (again[AUDIO]["status"], again[AUDIO]["attempts"]) == ("done", 1)
    assert (again[VIDEO]["status"], again[VIDEO]["attempts"]) == ("pending", 0)
    assert token_stored(runtime) == fresh
    for file_id in SIZES:
        run(runtime, file_id)
    assert jobs(runtime)[VIDEO]["status"] == "done"
    assert fake.recording_files.count() == served + 1  # only the video, with the new token
    assert fake.recording_files.downloads[-1].auth == "download_token"


def test_unreachable_storage_is_retried_and_nothing_is_lost(
    make: Callable[..., Runtime], fake_zoom: RunningFake, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the storage directory should be")
    root = blocker / "recordings"
    runtime = make(recordings_storage=root.as_uri())
    fake = fake_zoom.fake
    serve_files(fake)
    deliver(runtime, event(fake_zoom, token=fake.recording_files.mint_token()))
    assert isinstance(run(runtime, AUDIO), Later)
    job = jobs(runtime)[AUDIO]
    assert job["status"] == "pending"
    assert job["last_error"].startswith(f"storage {root.as_uri()}: cannot open")
    assert "Not a directory" in job["last_error"]
    with runtime.engine.connect() as conn:
        assert conn.execute(select(webhook_events.c.status)).scalar_one() == "done"
    blocker.unlink()  # the storage is back
    due_now(runtime)
    assert run(runtime, AUDIO) is None
    assert stored(root, AUDIO, "m4a").stat().st_size == SIZES[AUDIO]


def test_only_the_configured_file_types_are_fetched(
    make: Callable[..., Runtime], fake_zoom: RunningFake
) -> None:
    runtime = make(recordings_file_types="mp4")
    deliver(runtime, event(fake_zoom, token="t"))
    assert set(jobs(runtime)) == {VIDEO}


def test_off_by_default(
    make_runtime: MakeRuntime, zoom_settings: dict[str, Any], fake_zoom: RunningFake
) -> None:
    runtime = make_runtime(**zoom_settings)
    assert runtime.download_runner is None
    assert runtime.actors.download_recording is None
    assert runtime.actors.download_queues == set()
    deliver(runtime, event(fake_zoom, token="t"))
    assert jobs(runtime) == {}
    assert file_row(runtime, VIDEO)["download_state"] is None
    assert token_stored(runtime) == "t"  # kept as before: nothing here clears it


def test_object_keys_are_safe_and_findable() -> None:
    assert object_key("acct", "/ab+cd==", "f/1", "MP4") == "acct/_ab-cd==/f_1.mp4"
    assert object_key(None, "..", "x", None) == "no-account/no-uuid/x.bin"
    assert object_key("a", "u", "id", "../etc") == "a/u/id._etc"
