"""Row shaping for cloud recordings: the `recording.*` webhooks and the recordings listing
(`GET /meetings/{meetingId}/recordings`) into `recordings` and `recording_files` rows. Pure,
no I/O.

Both sources describe the same rows, keyed by instance uuid and file id. A listing stands for
a delivery at the time it was fetched, so the newer of the two wins whatever the order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from service.processing.shape import Row, as_int, text, zoom_time
from service.webhooks.events import Event

RECORDING_EVENTS = ("recording.completed", "recording.transcript_completed")


def recording_row(event: Event, inbox_id: int) -> Row | None:
    """`recording.completed` / `recording.transcript_completed`: the recorded instance.

    The event's `download_token` (top level, minted anew per delivery) is kept with its
    `event_ts`, so the newest delivery's token wins whatever the arrival order.
    """
    token = text(event.data.get("download_token"))
    return _recording(event.object, event.account_id, token, event.event_ts, inbox_id)


def recording_file_rows(event: Event, inbox_id: int) -> Iterator[Row]:
    """Every file of the recording, per-participant audio included; files without an id are
    skipped (Zoom gives one to every file it can serve)."""
    return _recording_files(event.object, event.event_ts, inbox_id)


def fetched_recording_row(body: dict[str, Any], account_id: str | None, at_ms: int) -> Row | None:
    """`GET /meetings/{meetingId}/recordings` fetched at `at_ms` (epoch ms), which stands for
    the `event_ts` of a webhook: the newer of the two wins. Its `download_access_token` (asked
    for with a webhook token's 24 h) is the `download_token`."""
    token = text(body.get("download_access_token"))
    return _recording(body, account_id, token, at_ms, None)


def fetched_recording_file_rows(body: dict[str, Any], at_ms: int) -> Iterator[Row]:
    return _recording_files(body, at_ms, None)


def _recording(
    obj: dict[str, Any],
    account_id: str | None,
    token: str | None,
    event_ts: int | None,
    inbox_id: int | None,
) -> Row | None:
    uuid = text(obj.get("uuid"), 64)
    if not uuid:
        return None
    return {
        "uuid": uuid,
        "zoom_id": as_int(obj.get("id")),
        "account_id": text(obj.get("account_id"), 64) or account_id,
        "host_id": text(obj.get("host_id"), 64),
        "host_email": text(obj.get("host_email")),
        "topic": text(obj.get("topic")),
        "type": as_int(obj.get("type")),  # an integer in webhooks, a string in the REST API
        "timezone": text(obj.get("timezone"), 64) or None,
        "start_time": zoom_time(obj.get("start_time")),
        "duration": as_int(obj.get("duration")),
        "total_size": _whole(obj.get("total_size")),
        "recording_count": as_int(obj.get("recording_count")),
        "share_url": text(obj.get("share_url")),
        "download_token": token,
        "event_ts": event_ts,
        "inbox_id": inbox_id,
    }


def _recording_files(
    obj: dict[str, Any], event_ts: int | None, inbox_id: int | None
) -> Iterator[Row]:
    uuid = text(obj.get("uuid"), 64)
    lists = (("recording_files", False), ("participant_audio_files", True))
    for key, participant_audio in lists:
        files = obj.get(key)
        for f in files if isinstance(files, list) and uuid else []:
            if not isinstance(f, dict) or not f.get("id"):
                continue
            yield {
                "id": text(f.get("id"), 64),
                "recording_uuid": uuid,
                "participant_audio": participant_audio,
                "recording_type": text(f.get("recording_type"), 64),
                "file_type": text(f.get("file_type"), 32),
                "file_extension": text(f.get("file_extension"), 16),
                "file_name": text(f.get("file_name")),
                "file_size": _whole(f.get("file_size")),
                "checksum": text(f.get("checksum"), 128) or None,
                "play_url": text(f.get("play_url")),
                "download_url": text(f.get("download_url")),
                "recording_start": zoom_time(f.get("recording_start")),
                "recording_end": zoom_time(f.get("recording_end")),
                "status": text(f.get("status"), 32),
                "event_ts": event_ts,
                "inbox_id": inbox_id,
            }


def _whole(value: Any) -> int | None:
    """A size: the REST API's schema says `number`, so 7220.0 is 7220."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return as_int(value)
