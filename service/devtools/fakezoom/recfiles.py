"""Recording file downloads: `GET /rec/download/{fileId}`, as a webhook's `download_url`.

Not an API operation (Zoom's OpenAPI spec has none for it; the spec's `download_url` fields say
to add the webhook's `download_token` as `?access_token=`, or to send an OAuth token as
`Authorization: Bearer`), so it answers like Zoom's download host: the bytes with
`Content-Length`, `206` with `Content-Range` for a `Range: bytes=N-` request, `416` past the
end, `401` with Zoom's error body for a missing, unknown or expired token, `404` for a file it
does not know.

A file is generated on the fly from its id and size (`content`), so a 1 GB file costs no
memory and a test can check any range. Faults for the downloader's tests: `cut_next` closes
the connection after some bytes of the next transfer of a file; `served_size` serves a file
whose length is not the `file_size` the event claims.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from . import errors
from .oauth import check_bearer
from .responses import json_response
from .tokens import AccessTokens, Clock

DOWNLOAD_PREFIX = "/rec/download"
#: How long a minted `download_token` is accepted (seconds of the fake's clock): Zoom's 24 h.
DEFAULT_DOWNLOAD_TOKEN_LIFETIME = 24 * 60 * 60.0
#: Bytes generated and sent at a time.
DEFAULT_SEND_CHUNK = 256 * 1024
#: Length of a file's repeating pattern: prime, so no chunk size lines up with it.
PATTERN_LENGTH = 65_521
FILE_NOT_FOUND = errors.ZoomError(404, 3301, "This recording does not exist.")


class CutConnection(Exception):
    """Raised inside a response body to drop the connection mid-transfer (a fault)."""


@dataclass(slots=True)
class FakeFile:
    file_id: str
    size: int
    #: Bytes actually served (None: `size`), for a file whose event claims a wrong size.
    served_size: int | None = None
    #: Drop the connection after this many bytes of the next transfer (one-shot).
    cut_after: int | None = None
    pattern: bytes = field(default=b"", repr=False)

    @property
    def length(self) -> int:
        return self.size if self.served_size is None else self.served_size


@dataclass(frozen=True, slots=True)
class Download:
    """One download request, for tests: how it authenticated and what it got."""

    file_id: str
    auth: str | None  # download_token, oauth or None
    status: int
    start: int


def pattern(file_id: str) -> bytes:
    """The repeating content of a file: deterministic from its id."""
    seed = hashlib.sha256(file_id.encode()).digest()
    blocks = (PATTERN_LENGTH + 31) // 32
    data = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(blocks))
    return data[:PATTERN_LENGTH]


def content(file_id: str, start: int, end: int, chunk: int = DEFAULT_SEND_CHUNK) -> bytes:
    """Bytes [start, end) of the file (for tests to compare small ranges)."""
    return b"".join(_Lazy(pattern(file_id), start, end, chunk))


class _Lazy:
    def __init__(self, data: bytes, start: int, end: int, chunk: int) -> None:
        self.data, self.start, self.end, self.chunk = data, start, end, chunk

    def __iter__(self) -> _Lazy:
        return self

    def __next__(self) -> bytes:
        if self.start >= self.end:
            raise StopIteration
        n = min(self.chunk, self.end - self.start)
        offset = self.start % len(self.data)
        piece = bytearray()
        while len(piece) < n:
            take = min(n - len(piece), len(self.data) - offset)
            piece += self.data[offset : offset + take]
            offset = 0
        self.start += n
        return bytes(piece)


class RecordingFiles:
    """The files the fake can serve, the download tokens it minted, and what was asked."""

    def __init__(
        self,
        access_tokens: AccessTokens,
        clock: Clock,
        world_sizes: Callable[[str], int | None] = lambda _key: None,
    ) -> None:
        self.access_tokens = access_tokens
        self.clock = clock
        #: The size of a file of a recording in the world (`World.recorded_file_size`): such a
        #: file is served without an `add`.
        self.world_sizes = world_sizes
        self._lock = threading.Lock()
        self._files: dict[str, FakeFile] = {}
        self._tokens: dict[str, float] = {}
        self.downloads: list[Download] = []

    def add(self, file_id: str, size: int, *, served_size: int | None = None) -> FakeFile:
        if size < 0 or (served_size is not None and served_size < 0):
            raise ValueError("sizes must be >= 0")
        made = FakeFile(file_id, size, served_size, pattern=pattern(file_id))
        with self._lock:
            self._files[file_id] = made
        return made

    def cut_next(self, file_id: str, after_bytes: int) -> None:
        found = self._file(file_id)
        if found is None:
            raise KeyError(file_id)
        with self._lock:
            found.cut_after = after_bytes

    def _file(self, file_id: str) -> FakeFile | None:
        with self._lock:
            found = self._files.get(file_id)
        if found is None:
            size = self.world_sizes(file_id)
            if size is not None:
                with self._lock:
                    found = self._files.setdefault(
                        file_id, FakeFile(file_id, size, pattern=pattern(file_id))
                    )
        return found

    def mint_token(self, lifetime: float = DEFAULT_DOWNLOAD_TOKEN_LIFETIME) -> str:
        """A `download_token` as a webhook carries: valid for `lifetime` of the fake's clock."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self.clock() + lifetime
        return token

    def expire_tokens(self) -> None:
        """Every download token minted so far stops working (as 24 h later)."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, float("-inf"))

    def count(self, file_id: str | None = None, *, auth: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for d in self.downloads
                if (file_id is None or d.file_id == file_id) and (auth is None or d.auth == auth)
            )

    def _auth(self, request: Request) -> str | None:
        token = request.query_params.get("access_token")
        if token is not None:
            with self._lock:
                until = self._tokens.get(token)
            return "download_token" if until is not None and self.clock() < until else None
        header = request.headers.get("authorization", "")
        error, _ = check_bearer(header, self.access_tokens)
        return "oauth" if error is None else None

    async def endpoint(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        auth = self._auth(request)
        self._file(file_id)
        with self._lock:
            found = self._files.get(file_id)
            cut = found.cut_after if found is not None else None
            if found is not None:
                found.cut_after = None
        start, end = 0, found.length if found is not None else 0
        status = 200 if auth is not None and found is not None else 0
        if auth is None:
            error = errors.INVALID_ACCESS_TOKEN
            status = error.status
        elif found is None:
            error = FILE_NOT_FOUND
            status = error.status
        else:
            wanted = _range(request.headers.get("range", ""))
            if wanted is not None:
                start = wanted
                status = 206 if start < found.length else 416
        self._log(Download(file_id, auth, status, start))
        if status in (401, 404):
            return json_response(status, error.body())
        assert found is not None
        if status == 416:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{found.length}"})
        headers = {
            "Content-Length": str(end - start),
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
        }
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{found.length}"
        return StreamingResponse(
            _body(found.pattern, start, end, cut), status_code=status, headers=headers
        )

    def _log(self, download: Download) -> None:
        with self._lock:
            self.downloads.append(download)

    def reset(self) -> None:
        with self._lock:
            self.downloads.clear()
            self._tokens.clear()


async def _body(data: bytes, start: int, end: int, cut: int | None) -> AsyncIterator[bytes]:
    sent = 0
    for piece in _Lazy(data, start, end, DEFAULT_SEND_CHUNK):
        if cut is not None and sent + len(piece) > cut:
            if cut > sent:
                yield piece[: cut - sent]
            raise CutConnection(f"fakezoom cut the transfer after {cut} bytes (a fault)")
        sent += len(piece)
        yield piece


def _range(header: str) -> int | None:
    """The start of `Range: bytes=N-` (the only form the downloader sends); None: no range."""
    unit, _, spec = header.strip().partition("=")
    first, dash, last = spec.partition("-")
    if unit.strip().lower() != "bytes" or not dash or last.strip() or not first.isdigit():
        return None
    return int(first)
