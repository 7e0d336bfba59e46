"""Copying one recording file from Zoom to the configured storage: streamed, resumable,
verified by size, and never logging a token or the URL's query string.

Authentication, in Zoom's documented order: within 24 h of the event, the event's
`download_token` as `?access_token=`; after that, or when Zoom refuses it (401), the app's
Server-to-Server OAuth token as `Authorization: Bearer`. Each attempt streams the body in
the network's chunks straight into the backend's upload (constant memory whatever the size);
a transfer cut short keeps what the backend can resume (the file backend's `.part`), and the
next attempt asks only for the rest with an HTTP Range request. The object is committed only
once its size equals Zoom's `file_size`; a mismatch restarts the file from scratch.

The storage being unreachable is transient like a network failure: the job goes back to
`pending` with backoff, the event stays done, and nothing is lost.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy.exc import SQLAlchemyError

from service import metrics
from service.apps import NotBound
from service.objectstore import Backend, StorageUnavailable, Upload
from service.processing.followup import DEFAULT_TRANSIENT_BASE, DEFAULT_TRANSIENT_CAP, Later
from service.storage.downloads import DownloadJob, DownloadJobs, Source
from service.storage.errors import describe
from service.storage.heartbeat import Heartbeat
from service.storage.lease import new_owner
from service.storage.types import utcnow
from service.zoom import ZoomClient, backoff_delay

log = logging.getLogger(__name__)

#: How long Zoom's `download_token` is valid after the event (seconds).
DEFAULT_TOKEN_VALIDITY = 24 * 60 * 60
#: A token this close to its end is not used: the OAuth token is (seconds).
DEFAULT_TOKEN_MARGIN = 60
#: How often a transfer records its progress on the job row (bytes).
DEFAULT_PROGRESS_EVERY = 64 * 1024 * 1024
_TOKEN_IN_TEXT = re.compile(r"(access_token=)[^&\s\"']+", re.IGNORECASE)

ClientFor = Callable[[str | None, str | None], ZoomClient | None]


def default_timeout() -> httpx.Timeout:
    # No overall deadline (a multi-GB file takes as long as it takes); a stalled read fails.
    return httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)


class Transient(Exception):
    """This attempt failed; another may succeed."""


class Refused(Exception):
    """Zoom will not give this file (gone, forbidden): the job fails for good."""


@dataclass(slots=True)
class Attempt:
    """What one attempt used and got, for the job row and the log."""

    auth: str | None = None
    restarted: bool = False
    notes: list[str] = field(default_factory=list)


def scrub(text: str) -> str:
    """`text` without any access token in it (an error that quotes a URL)."""
    return _TOKEN_IN_TEXT.sub(r"\1…", text)


class DownloadRunner:
    def __init__(
        self,
        jobs: DownloadJobs,
        backend: Backend,
        client_for: ClientFor,
        *,
        max_attempts: int,
        http: httpx.Client | None = None,
        rng: random.Random | None = None,
        heartbeat: Heartbeat | None = None,
        beat: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        retry_base: float = DEFAULT_TRANSIENT_BASE,
        retry_cap: float = DEFAULT_TRANSIENT_CAP,
    ) -> None:
        self.jobs = jobs
        self.backend = backend
        self.client_for = client_for
        self.max_attempts = max_attempts
        self.http = http or httpx.Client(timeout=default_timeout(), follow_redirects=True)
        self.rng = rng or random.Random()
        self.heartbeat = heartbeat or Heartbeat(jobs.engine, [jobs.leases])
        self.beat = beat
        self.clock = clock
        self.retry_base = retry_base
        self.retry_cap = retry_cap

    def close(self) -> None:
        self.http.close()
        self.backend.close()

    def run(self, job_id: int) -> Later | None:
        """Run the download if it is due and free. Returns when to run it again, if ever."""
        owner = new_owner()
        with self.heartbeat.holding(self.jobs.leases, owner):
            job = self.jobs.claim(job_id, owner)
            if job is None:
                return None
            return self._run(job)

    def _run(self, job: DownloadJob) -> Later | None:
        attempt = Attempt()
        stored = 0
        try:
            source = self.jobs.source(job)
            if not source.download_url:
                raise Refused("Zoom sent no download_url for this file")
            expected = source.file_size if source.file_size is not None else job.expected_size
            upload = self.backend.open(job.storage_key)
            try:
                self._transfer(job, source, upload, attempt)
                stored = upload.offset
                self._verify(upload, expected)
                uri = upload.commit()
            except BaseException:
                stored = upload.offset
                upload.pause()
                raise
        except Refused as exc:
            self._fail(job, str(exc), stored, attempt)
            return None
        except (Transient, StorageUnavailable) as exc:
            return self._retry(job, str(exc), stored, attempt)
        except httpx.HTTPError as exc:
            return self._retry(job, f"download: {type(exc).__name__}: {exc}", stored, attempt)
        except SQLAlchemyError as exc:
            return self._retry(job, f"database: {describe(exc)}", stored, attempt)
        if not self.jobs.done(job, size=stored, sha256=upload.sha256, uri=uri, auth=attempt.auth):
            log.warning("recording download %s: lease lost, leaving it to its holder", job.id)
            return None
        metrics.RECORDING_DOWNLOADS.labels("done").inc()
        log.info(
            "recording file %s stored at %s (%s bytes, by %s)",
            job.file_id,
            self.backend.uri(job.storage_key),
            stored,
            attempt.auth,
        )
        return None

    # -- the transfer -------------------------------------------------------------------------

    def _transfer(self, job: DownloadJob, source: Source, upload: Upload, attempt: Attempt) -> None:
        assert source.download_url is not None
        url = source.download_url
        auths = self._auths(job, source)
        if not auths:
            raise Refused(
                f"the download_token has expired (24 h after the event) and app {job.app!r} has "
                "no API credentials to fall back on: set client_id and client_secret for it, "
                "then re-run the download"
            )
        for index, (name, authorize) in enumerate(auths):
            attempt.auth = name
            headers = {"Accept-Encoding": "identity"}
            if upload.offset:
                headers["Range"] = f"bytes={upload.offset}-"
            params, extra = authorize()
            with self.http.stream("GET", url, params=params, headers=headers | extra) as response:
                if response.status_code == 401 and index + 1 < len(auths):
                    attempt.notes.append(f"{name} refused (401)")
                    continue
                self._check(response, upload, attempt)
                self._stream(job, response, upload)
                return

    def _auths(
        self, job: DownloadJob, source: Source
    ) -> list[tuple[str, Callable[[], tuple[dict[str, str], dict[str, str]]]]]:
        found: list[tuple[str, Callable[[], tuple[dict[str, str], dict[str, str]]]]] = []
        token = source.download_token
        if token and source.event_ts is not None:
            valid_until = source.event_ts / 1000 + DEFAULT_TOKEN_VALIDITY
            if self.clock() + DEFAULT_TOKEN_MARGIN < valid_until:
                found.append(("download_token", lambda: ({"access_token": token}, {})))
        try:
            client = self.client_for(job.account_id, job.app)
        except NotBound:
            client = None
        if client is not None:
            oauth = client

            def bearer() -> tuple[dict[str, str], dict[str, str]]:
                access = oauth.access_token().access_token
                return {}, {"Authorization": f"Bearer {access}"}

            found.append(("oauth", bearer))
        return found

    def _check(self, response: httpx.Response, upload: Upload, attempt: Attempt) -> None:
        status = response.status_code
        host = urlsplit(str(response.url)).hostname or "zoom"
        if status == 206:
            start = _range_start(response.headers.get("content-range", ""))
            if start != upload.offset:
                upload.restart()
                raise Transient(f"{host} answered a range from {start}, not {upload.offset}")
            return
        if status == 200:
            if upload.offset:
                attempt.notes.append(f"{host} ignored the range: restarted from 0")
                upload.restart()
            return
        if status == 416:
            # What is stored is already as long as (or longer than) the file: start over.
            upload.restart()
            raise Transient(f"{host} answered 416 to a resume: restarting the file")
        if status in (429,) or status >= 500:
            raise Transient(f"{host} answered {status}")
        if status in (401, 403, 404, 410):
            raise Refused(
                f"{host} answered {status} with {attempt.auth}"
                + (" (after: " + "; ".join(attempt.notes) + ")" if attempt.notes else "")
            )
        raise Transient(f"{host} answered {status}")

    def _stream(self, job: DownloadJob, response: httpx.Response, upload: Upload) -> None:
        since_progress = 0
        # As the network delivers it (at most httpcore's read size, 64 KiB): no re-chunking
        # buffer, so a transfer cut short keeps every byte it received.
        for chunk in response.iter_raw():
            upload.write(chunk)
            metrics.RECORDING_BYTES.inc(len(chunk))
            self.beat()
            since_progress += len(chunk)
            if since_progress >= DEFAULT_PROGRESS_EVERY:
                since_progress = 0
                self.jobs.progress(job, upload.offset)

    @staticmethod
    def _verify(upload: Upload, expected: int | None) -> None:
        if expected is not None and upload.offset != expected:
            got = upload.offset
            upload.restart()
            raise Transient(
                f"size mismatch: got {got} bytes, Zoom's file_size is {expected}: restarting"
            )

    # -- outcomes -----------------------------------------------------------------------------

    def _retry(self, job: DownloadJob, error: str, stored: int, attempt: Attempt) -> Later | None:
        error = scrub(error)
        if job.attempts >= self.max_attempts:
            self._fail(job, f"{error} (after {job.attempts} attempts)", stored, attempt)
            return None
        delay = backoff_delay(job.attempts, self.retry_base, self.retry_cap, self.rng)
        at = utcnow() + timedelta(seconds=delay)
        self.jobs.reschedule(job, at=at, error=error, bytes_stored=stored, auth=attempt.auth)
        metrics.RECORDING_DOWNLOADS.labels("retry").inc()
        log.warning(
            "recording file %s attempt %s failed (%s); %s bytes kept, again at %s",
            job.file_id,
            job.attempts,
            error,
            stored,
            at,
        )
        return Later(at)

    def _fail(self, job: DownloadJob, error: str, stored: int, attempt: Attempt) -> None:
        error = scrub(error)
        self.jobs.fail(job, error=error, bytes_stored=stored, auth=attempt.auth)
        metrics.RECORDING_DOWNLOADS.labels("failed").inc()
        log.warning("recording file %s download failed: %s", job.file_id, error)


def _range_start(content_range: str) -> int | None:
    """The first byte of `Content-Range: bytes START-END/TOTAL`."""
    unit, _, spec = content_range.strip().partition(" ")
    start, dash, _ = spec.partition("-")
    if unit.lower() != "bytes" or not dash or not start.isdigit():
        return None
    return int(start)
