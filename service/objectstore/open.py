"""The backend a storage URL names."""

from __future__ import annotations

from pathlib import Path

from service.objectstore.base import Backend
from service.recording_settings import StorageURL


def open_backend(url: StorageURL) -> Backend:
    if url.scheme == "file":
        from service.objectstore.local import FileBackend

        return FileBackend(Path(url.location))
    from service.objectstore.s3 import S3Backend  # boto3 is imported only when used

    return S3Backend(url.location, url.prefix)
