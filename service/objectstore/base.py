"""The storage backend contract: open an upload for a key, write chunks, commit or keep the
part for a later resume. Every failure to reach the storage is `StorageUnavailable`, one line
naming the backend (never credentials), which the downloader treats as transient."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]")


class StorageUnavailable(Exception):
    """The storage could not be reached or written; the attempt is retried later."""


def _segment(value: str | None, fallback: str) -> str:
    """A key segment from a Zoom id: base64's `/` and `+` made URL-safe (`_`, `-`, as in
    base64url, so two UUIDs never share a segment), anything else outside [A-Za-z0-9._=-]
    replaced by `_`; never empty, `.` or `..`."""
    text = (value or "").replace("/", "_").replace("+", "-")
    text = _UNSAFE.sub("_", text).strip(".") or fallback
    return text[:128]


def object_key(
    account_id: str | None, recording_uuid: str, file_id: str, extension: str | None
) -> str:
    """`<account id>/<recording uuid, URL-safe>/<file id>.<ext>`: below the storage root (or
    S3 prefix), so ops find a meeting's files by the account and the instance's UUID."""
    ext = _segment((extension or "bin").lower(), "bin")
    return "/".join(
        (
            _segment(account_id, "no-account"),
            _segment(recording_uuid, "no-uuid"),
            f"{_segment(file_id, 'no-id')}.{ext}",
        )
    )


class Upload(ABC):
    """One object being written. `offset` bytes are already stored (a resumed part), and
    `sha256` covers every stored byte."""

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset
        self._digest = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def write(self, chunk: bytes) -> None:
        self._write(chunk)
        self._digest.update(chunk)
        self.offset += len(chunk)

    def restart(self) -> None:
        """Drop what is stored so far: the next byte written is the object's first."""
        self._restart()
        self._digest = hashlib.sha256()
        self.offset = 0

    @abstractmethod
    def _write(self, chunk: bytes) -> None: ...

    @abstractmethod
    def _restart(self) -> None: ...

    @abstractmethod
    def commit(self) -> str:
        """Make the object whole and visible at its key; returns its URI."""

    @abstractmethod
    def pause(self) -> None:
        """The transfer stopped early: keep what a later `open` can resume, free the rest."""


class Backend(ABC):
    #: Safe to log and store: the storage URL, without any credentials.
    display: str

    @abstractmethod
    def open(self, key: str) -> Upload:
        """An upload for `key`, resuming a part an earlier attempt left when the backend can."""

    @abstractmethod
    def stored_size(self, key: str) -> int | None:
        """The size of the finished object at `key`, or None if there is none."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """Where the object lives, for people (`file:///…`, `s3://bucket/…`)."""

    def close(self) -> None:  # noqa: B027 - optional: most backends hold nothing
        """Free connections; the default has none."""
