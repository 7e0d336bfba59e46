"""The file backend: `<root>/<key>`, written to `<key>.part` and renamed when whole.

A transfer cut short leaves the `.part` file; the next attempt appends to it after an HTTP
Range request, hashing what is there first so `sha256` still covers the whole file. The rename
happens after an fsync, so a finished key is never a torn file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

from service.objectstore.base import Backend, StorageUnavailable, Upload

#: Bytes read at a time when re-hashing a part to resume it.
DEFAULT_READ_CHUNK = 1024 * 1024
PART_SUFFIX = ".part"


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


class FileUpload(Upload):
    def __init__(self, backend: FileBackend, final: Path) -> None:
        self.backend = backend
        self.final = final
        self.part = final.with_name(final.name + PART_SUFFIX)
        super().__init__()
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            self._file: BinaryIO = open(self.part, "a+b")  # noqa: SIM115 - closed by commit/pause
            self._file.seek(0)
            while chunk := self._file.read(DEFAULT_READ_CHUNK):
                self._digest.update(chunk)
                self.offset += len(chunk)
        except OSError as exc:
            raise backend.unavailable(f"cannot open {self.part.name}", exc) from None

    def _write(self, chunk: bytes) -> None:
        try:
            self._file.write(chunk)
        except OSError as exc:
            raise self.backend.unavailable("cannot write", exc) from None

    def _restart(self) -> None:
        try:
            self._file.seek(0)
            self._file.truncate()
        except OSError as exc:
            raise self.backend.unavailable("cannot truncate", exc) from None

    def commit(self) -> str:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self.part, self.final)
            directory = os.open(self.final.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            raise self.backend.unavailable("cannot finish the file", exc) from None
        return self.final.as_uri()

    def pause(self) -> None:
        # The next attempt re-reads whatever reached the disk.
        with contextlib.suppress(OSError):
            self._file.close()


class FileBackend(Backend):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.display = f"file://{root}"

    def unavailable(self, what: str, exc: OSError) -> StorageUnavailable:
        return StorageUnavailable(f"storage {self.display}: {what}: {_why(exc)}")

    def path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def open(self, key: str) -> FileUpload:
        return FileUpload(self, self.path(key))

    def stored_size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self.unavailable("cannot read", exc) from None

    def uri(self, key: str) -> str:
        return self.path(key).as_uri()
