"""Recordings from `recording.completed` / `recording.transcript_completed`: one test per
fixture, then redelivery, arrival order and the local-copy state that webhooks never touch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from service.runtime import Runtime
from service.storage.models import recording_files, recordings, webhook_events
from tests.conftest import MakeRuntime
from tests.processing.test_live import deliver, table
from tests.support import WEBHOOKS, compact, signed_headers

COMPLETED = WEBHOOKS / "recording.completed.json"
TRANSCRIPT = WEBHOOKS / "recording.transcript_completed.json"
UUID = "4444AAAiAAAAAiAiAiiAii=="
AUDIO, VIDEO, PARTICIPANT_AUDIO = (
    "ed6c2f27-2ae7-42f4-b3d0-835b493e4fa8",
    "388ffb46-1541-460d-8447-4624451a1db7",
    "2af3b4b2-d5ad-4b5b-9be2-81b429206b27",
)
VTT = "7dba9a54-3b4c-4c7e-9d1e-5a6c2c0c9a01"


@pytest.fixture
def runtime(make_runtime: MakeRuntime, database_url: str) -> Runtime:
    return make_runtime(database_url=database_url)


def files(runtime: Runtime) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in table(runtime, recording_files)}


def variant(path: Any, **changes: Any) -> bytes:
    """The fixture as another delivery would carry it: new token, event_ts or file fields."""
    data = json.loads(path.read_text(encoding="utf-8"))
    files_changes = changes.pop("files", {})
    data.update(changes)
    for f in data["payload"]["object"].get("recording_files", []):
        f.update(files_changes)
    return json.dumps(data, separators=(",", ":")).encode()


def test_recording_completed(runtime: Runtime) -> None:
    deliver(runtime, compact(COMPLETED))
    (recording,) = table(runtime, recordings)
    assert recording == {
        "uuid": UUID,
        "zoom_id": 1234567890,
        "account_id": "x1yCzABCDEfg23HiJKl4mN",
        "host_id": "x1yCzABCDEfg23HiJKl4mN",
        "host_email": "jchill@example.com",
        "topic": "My Personal Recording",
        "type": 4,
        "timezone": "America/Los_Angeles",
        "start_time": datetime(2021, 7, 13, 21, 44, 51, tzinfo=UTC),
        "duration": 60,
        "total_size": 3328371,
        "recording_count": 2,
        "share_url": "https://example.com",
        "download_token": "abJhbGciOiJIUzUxMiJ9",
        "event_ts": 1626230691572,
    }
    found = files(runtime)
    assert set(found) == {AUDIO, VIDEO, PARTICIPANT_AUDIO}
    video = found[VIDEO]
    assert video["recording_uuid"] == UUID
    assert video["participant_audio"] is False
    assert (video["recording_type"], video["file_type"], video["file_extension"]) == (
        "shared_screen_with_speaker_view",
        "MP4",
        "MP4",
    )
    assert video["file_size"] == 282825
    assert video["checksum"] is None  # this sample has none
    assert video["download_url"] == (
        "https://example.com/recording/download/Qg75t7xZBtEbAkjdlgbfdngCCCC"
    )
    assert video["recording_start"] == datetime(2021, 3, 23, 22, 14, 57, tzinfo=UTC)
    assert video["recording_end"] == datetime(2021, 3, 23, 23, 15, 41, tzinfo=UTC)
    assert video["status"] == "completed"
    assert found[PARTICIPANT_AUDIO]["participant_audio"] is True
    assert found[PARTICIPANT_AUDIO]["file_name"] == "MyRecording"
    assert all(f["download_state"] is None and f["storage_uri"] is None for f in found.values())


def test_recording_transcript_completed(runtime: Runtime) -> None:
    deliver(runtime, compact(TRANSCRIPT))
    (recording,) = table(runtime, recordings)
    assert (recording["uuid"], recording["recording_count"]) == (UUID, 3)
    (vtt,) = files(runtime).values()
    assert (vtt["id"], vtt["file_type"], vtt["file_extension"]) == (VTT, "TRANSCRIPT", "VTT")
    assert (vtt["recording_type"], vtt["file_size"]) == ("audio_transcript", 1000)


@pytest.mark.parametrize("order", ["completed first", "transcript first"])
def test_transcript_adds_its_file_to_the_recording_in_either_order(
    runtime: Runtime, order: str
) -> None:
    paths = (COMPLETED, TRANSCRIPT) if order == "completed first" else (TRANSCRIPT, COMPLETED)
    for path in paths:
        deliver(runtime, compact(path))
    (recording,) = table(runtime, recordings)
    assert set(files(runtime)) == {AUDIO, VIDEO, PARTICIPANT_AUDIO, VTT}
    # The newer (transcript) event's token and counts win whatever the arrival order; what
    # it does not say (the completed event's fields) stays.
    assert recording["download_token"] == "abJhbGciOiJIUzUxMiJ9.transcript"
    assert (recording["recording_count"], recording["total_size"]) == (3, 3329371)
    assert recording["host_email"] == "jchill@example.com"


def test_redelivery_with_a_new_token_is_one_inbox_row_and_changes_nothing(
    runtime: Runtime,
) -> None:
    first = runtime.ingestor.ingest(compact(COMPLETED), signed_headers(compact(COMPLETED)))
    runtime.processor.process(first.inbox_id)  # type: ignore[union-attr]
    before = (table(runtime, recordings), files(runtime))
    again = variant(COMPLETED, download_token="another-token")
    second = runtime.ingestor.ingest(again, signed_headers(again))
    assert second.inbox_id == first.inbox_id  # type: ignore[union-attr]  # token not in the key
    runtime.processor.process(second.inbox_id)  # type: ignore[union-attr]
    assert (table(runtime, recordings), files(runtime)) == before
    with runtime.engine.connect() as conn:
        deliveries = conn.execute(select(webhook_events.c.deliveries)).scalar_one()
    assert deliveries == 2


def test_a_newer_event_refreshes_token_and_urls_but_not_the_local_copy(runtime: Runtime) -> None:
    deliver(runtime, compact(COMPLETED))
    stored_at = datetime(2026, 1, 1, tzinfo=UTC)
    local = {
        "download_state": "stored",
        "storage_uri": "file:///srv/rec/x.mp4",
        "bytes_stored": 282825,
        "sha256": "ab" * 32,
        "verified": True,
        "downloaded_at": stored_at,
        "last_error": None,
    }
    with runtime.engine.begin() as conn:
        conn.execute(update(recording_files).where(recording_files.c.id == VIDEO).values(local))
    newer = variant(
        COMPLETED,
        event_ts=1626230691572 + 60_000,
        download_token="fresh",
        files={"download_url": "https://example.com/recording/download/NEW"},
    )
    deliver(runtime, newer)
    (recording,) = table(runtime, recordings)
    assert recording["download_token"] == "fresh"
    video = files(runtime)[VIDEO]
    assert video["download_url"] == "https://example.com/recording/download/NEW"
    assert {k: video[k] for k in local} == local


def test_an_older_event_arriving_late_changes_nothing(runtime: Runtime) -> None:
    deliver(runtime, compact(COMPLETED))
    before = (table(runtime, recordings), files(runtime))
    older = variant(
        COMPLETED,
        event_ts=1626230691572 - 60_000,
        download_token="stale",
        files={"download_url": "https://example.com/recording/download/OLD", "file_size": 1},
    )
    deliver(runtime, older)
    assert (table(runtime, recordings), files(runtime)) == before


def test_without_a_uuid_the_event_is_ignored(runtime: Runtime) -> None:
    body = variant(COMPLETED, payload={"account_id": "A", "object": {"id": 1}})
    deliver(runtime, body)
    with runtime.engine.connect() as conn:
        assert conn.execute(select(recordings.c.uuid)).all() == []
