"""Cloud recordings of past instances, and `GET /meetings/{meetingId}/recordings` over them.

A `Recording` belongs to one instance of the world (`World.add_recording`); its files are
generated from the instance's UUID, so they are the same in every process, and `recfiles.py`
serves each of them at its `download_url` (the fake's own `/rec/download/{fileId}`).

The operation takes a meeting *or webinar* number (its latest instance, as the spec says) or an
instance UUID of either kind, decoded as `encoding.py` describes. An instance without a
recording, an ID the world does not know, or a UUID that needed double encoding and arrived
encoded once, is answered 404 code 3301 with the spec's text. The body follows the spec's
schema: `type` is a string, files of type CC carry no `id`, `status`, `file_size`,
`recording_type` or `play_url`, and `participant_audio_files` is sent only when there are any.
`include_fields=download_access_token` adds a token that `recfiles.py` accepts for `ttl`
seconds (default 24 h).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .encoding import decode_path_id
from .errors import ZoomError
from .instance import Instance, zoom_time
from .people import digest
from .recfiles import DEFAULT_DOWNLOAD_TOKEN_LIFETIME
from .spec import Match

NO_RECORDING = ZoomError(404, 3301, "There is no recording for this meeting.")
#: The file types a recording gets when the test names none.
DEFAULT_FILE_TYPES = ("MP4", "M4A", "TRANSCRIPT", "CHAT")
#: file_type -> (file_extension, recording_type), as Zoom names them.
FILE_KINDS: dict[str, tuple[str, str]] = {
    "MP4": ("MP4", "shared_screen_with_speaker_view"),
    "M4A": ("M4A", "audio_only"),
    "TRANSCRIPT": ("VTT", "audio_transcript"),
    "CHAT": ("TXT", "chat_file"),
    "CSV": ("CSV", "poll"),
    "SUMMARY": ("JSON", "summary"),
    "CC": ("VTT", "closed_caption"),
}
#: The types whose file objects have no id (nor status, size, type or play_url; see the spec).
WITHOUT_ID = frozenset({"CC"})

Reply = tuple[int, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RecordedFile:
    #: The download key; for a type without id, a key of the fake's own (never sent as `id`).
    key: str
    file_type: str
    size: int
    participant_audio: bool = False

    @property
    def has_id(self) -> bool:
        return self.file_type not in WITHOUT_ID


@dataclass(frozen=True, slots=True)
class Recording:
    instance: Instance
    files: tuple[RecordedFile, ...]

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def body(self, base_url: str, account_id: str, token: str | None) -> dict[str, Any]:
        """The 200 body of the operation, its files downloadable under `base_url`."""
        inst = self.instance
        main = [self._file(f, base_url) for f in self.files if not f.participant_audio]
        audio = [self._file(f, base_url) for f in self.files if f.participant_audio]
        body: dict[str, Any] = {
            "account_id": account_id,
            "duration": inst.duration_minutes,
            "host_id": inst.host.get("id", ""),
            "id": inst.id,
            "recording_count": len(self.files),
            "start_time": zoom_time(inst.start_time),
            "topic": inst.topic,
            "total_size": self.total_size,
            "type": "5" if inst.kind == "webinar" else "2",
            "uuid": inst.uuid,
            "recording_play_passcode": f"pass{digest(inst.seed, 'passcode', inst.id):x}",
            "password": "",
            "recording_files": main,
        }
        if audio:
            body["participant_audio_files"] = audio
        if token is not None:
            body["download_access_token"] = token
        return body

    def _file(self, f: RecordedFile, base_url: str) -> dict[str, Any]:
        inst = self.instance
        extension, recording_type = FILE_KINDS[f.file_type]
        out: dict[str, Any] = {}
        if f.has_id:
            out["id"] = f.key
        if not f.participant_audio:
            out["meeting_id"] = inst.uuid
        out["recording_start"] = zoom_time(inst.start_time + timedelta(seconds=5))
        out["recording_end"] = zoom_time(inst.end_time)
        if f.participant_audio:
            out["file_name"] = f"Participant audio {f.key[:8]}"
        out["file_type"] = f.file_type
        if not f.participant_audio:
            out["file_extension"] = extension
        out["download_url"] = f"{base_url}/rec/download/{f.key}"
        if f.has_id:
            out["file_size"] = f.size
            out["play_url"] = f"{base_url}/rec/play/{f.key}"
            out["status"] = "completed"
            if not f.participant_audio:
                out["recording_type"] = recording_type
        return out


def make_recording(
    inst: Instance,
    file_types: Sequence[str] = DEFAULT_FILE_TYPES,
    *,
    participant_audio: int = 0,
    sizes: Mapping[str, int] | None = None,
) -> Recording:
    """The recording of `inst`: one file per type, then `participant_audio` M4A files; `sizes`
    by file type overrides the generated sizes."""
    unknown = sorted(set(file_types) - set(FILE_KINDS))
    if unknown:
        raise ValueError(f"unknown recording file types {unknown} (known: {sorted(FILE_KINDS)})")
    made: list[RecordedFile] = []
    for n, file_type in enumerate(file_types):
        size = (sizes or {}).get(file_type, _size(inst, file_type, n))
        made.append(RecordedFile(_file_key(inst, n), file_type, size))
    for n in range(len(file_types), len(file_types) + participant_audio):
        made.append(RecordedFile(_file_key(inst, n), "M4A", _size(inst, "M4A", n), True))
    return Recording(inst, tuple(made))


def _file_key(inst: Instance, n: int) -> str:
    """A file id shaped like Zoom's (8-4-4-4-12 hex), stable for the instance and position."""
    h = hashlib.blake2b(f"recfile:{inst.uuid}:{n}".encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _size(inst: Instance, file_type: str, n: int) -> int:
    h = digest(inst.seed, "recsize", n)
    return 200_000 + h % 100_000 if file_type == "MP4" else 1_000 + h % 50_000


class RecordingsAPI:
    """Answers `recordingGet` for the recordings `find` knows (by instance UUID)."""

    def __init__(
        self,
        lookup: Callable[[str], Instance | None],
        find: Callable[[str], Recording | None],
        mint_token: Callable[[float], str],
    ) -> None:
        self.lookup = lookup
        self.find = find
        self.mint_token = mint_token

    def answer(self, match: Match, base_url: str, account_id: str) -> Reply:
        try:
            path_id = decode_path_id(match.raw_params["meetingId"])
        except UnicodeDecodeError:
            return NO_RECORDING.status, NO_RECORDING.body()
        if path_id.under_encoded:
            body = NO_RECORDING.body()
            body["fakezoom_hint"] = (
                "a UUID that begins with '/' or contains '//' must be URL-encoded twice"
            )
            return NO_RECORDING.status, body
        inst = self.lookup(path_id.value)
        recording = self.find(inst.uuid) if inst is not None else None
        if recording is None:
            return NO_RECORDING.status, NO_RECORDING.body()
        token = None
        if match.query.get("include_fields") == "download_access_token":
            ttl = match.query.get("ttl")
            lifetime = float(ttl) if isinstance(ttl, int) else DEFAULT_DOWNLOAD_TOKEN_LIFETIME
            token = self.mint_token(lifetime)
        return 200, recording.body(base_url, account_id, token)
