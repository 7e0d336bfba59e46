"""What recording downloads are configured with: where files go (a storage URL) and which
file types to fetch. Pure parsing, so a bad value stops the process at start with one line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

#: The file types Zoom names in `recording_files[].file_type` (and per-participant audio).
KNOWN_FILE_TYPES = frozenset(
    {"MP4", "M4A", "TRANSCRIPT", "CHAT", "CC", "CSV", "TIMELINE", "SUMMARY", "TB"}
)
STORAGE_SCHEMES = ("file", "s3")


@dataclass(frozen=True, slots=True)
class StorageURL:
    """`file:///abs/dir` or `s3://bucket/prefix`; `display` is safe to log (no secrets: the
    URL carries none, S3 credentials come from the AWS SDK's own environment/config)."""

    scheme: str
    #: file: the directory; s3: the bucket.
    location: str
    #: s3 only: the key prefix ('' for the bucket's root).
    prefix: str = ""

    @property
    def display(self) -> str:
        if self.scheme == "file":
            return f"file://{self.location}"
        return f"s3://{self.location}/{self.prefix}".rstrip("/")


def parse_storage_url(value: str) -> StorageURL:
    """Raise ValueError naming what is wrong, for an operator."""
    text = value.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in STORAGE_SCHEMES:
        raise ValueError(
            "ZOOMHOOKS_RECORDINGS_STORAGE must be file:///absolute/directory or s3://bucket/prefix"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            "ZOOMHOOKS_RECORDINGS_STORAGE takes no query, fragment or credentials: S3 "
            "credentials, region and endpoint come from the AWS environment (AWS_ACCESS_KEY_ID, "
            "AWS_REGION, AWS_ENDPOINT_URL...)"
        )
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError("ZOOMHOOKS_RECORDINGS_STORAGE: a file:// URL has no host")
        path = unquote(parts.path)
        if not path.startswith("/") or path == "/":
            raise ValueError(
                "ZOOMHOOKS_RECORDINGS_STORAGE: file:// needs an absolute directory other than "
                "/ (file:///var/lib/zoomhooks/recordings)"
            )
        return StorageURL("file", str(PurePosixPath(path)))
    bucket = parts.netloc
    if not bucket or "/" in bucket:
        raise ValueError("ZOOMHOOKS_RECORDINGS_STORAGE: s3:// needs a bucket (s3://bucket/prefix)")
    prefix = "/".join(p for p in unquote(parts.path).split("/") if p)
    if any(p in (".", "..") for p in prefix.split("/")):
        raise ValueError("ZOOMHOOKS_RECORDINGS_STORAGE: the S3 prefix has a . or .. segment")
    return StorageURL("s3", bucket, prefix)


def parse_file_types(value: str) -> frozenset[str]:
    """A comma-separated list of Zoom file types (any case); empty or `all`: every type."""
    names = {n.strip().upper() for n in value.split(",") if n.strip()}
    if not names or names == {"ALL"}:
        return frozenset()
    unknown = sorted(names - KNOWN_FILE_TYPES)
    if unknown:
        raise ValueError(
            f"ZOOMHOOKS_RECORDINGS_FILE_TYPES: unknown file type {', '.join(unknown)} "
            f"(known: {', '.join(sorted(KNOWN_FILE_TYPES))}, or all)"
        )
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class RecordingDownloads:
    """Downloads are on: where to, which types (empty: all), how many at once per process."""

    storage: StorageURL
    file_types: frozenset[str]
    threads: int

    def wants(self, file_type: str | None) -> bool:
        if not self.file_types:
            return True
        return file_type is not None and file_type.upper() in self.file_types
