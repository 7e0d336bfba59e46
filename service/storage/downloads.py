"""Recording download jobs: one `recording_downloads` row per recording file.

The row runs on the lease state machine of the follow-ups and actions (service.storage.lease):
free `pending`, held `running`, finished `done` or `failed`. UNIQUE (file_id) makes a
redelivered `recording.completed` find its jobs: a `done` file is never fetched again, a
`failed` one is given a fresh start (the redelivery brought a fresh `download_token`), and a
pending one simply uses the newest token, which lives on the `recordings` row.

Each outcome is also written to the file's `recording_files.download_state` … `last_error`, in
the same transaction, for the queries ops already run on that table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from service.storage.followups import worker_identity
from service.storage.inbox import MAX_ERROR_LENGTH
from service.storage.jobs import JobTable
from service.storage.lease import DEFAULT_LEASE_SECONDS, LeaseLost
from service.storage.models import followups, recording_downloads, recording_files, recordings
from service.storage.types import utcnow

UNFINISHED = ("pending", "running")
DOWNLOAD_STATUSES = ("pending", "running", "done", "failed")


@dataclass(frozen=True, slots=True)
class NewDownload:
    file_id: str
    recording_uuid: str
    storage_key: str
    expected_size: int | None


@dataclass(frozen=True, slots=True)
class DownloadJob:
    id: int
    file_id: str
    recording_uuid: str
    app: str | None
    account_id: str | None
    attempts: int
    storage: str
    storage_key: str
    expected_size: int | None
    #: The claim's lease owner: every write of this attempt is guarded by it.
    owner: str


@dataclass(frozen=True, slots=True)
class Source:
    """Where to fetch the file from, read at each attempt (a redelivery may renew it)."""

    download_url: str | None
    file_size: int | None
    download_token: str | None = None
    #: Epoch milliseconds of the event that brought the token.
    event_ts: int | None = None


class DownloadJobs(JobTable):
    def __init__(
        self, engine: Engine, *, lease: timedelta = timedelta(seconds=DEFAULT_LEASE_SECONDS)
    ) -> None:
        super().__init__(engine, recording_downloads, lease=lease)

    def create(
        self,
        conn: Connection,
        wanted: Sequence[NewDownload],
        *,
        app: str | None,
        account_id: str | None,
        inbox_id: int | None,
        storage: str,
    ) -> list[int]:
        """Jobs for the files not queued yet, and a fresh start for failed ones (inside the
        handler's transaction); the ids to enqueue. Done and unfinished jobs are left alone."""
        if not wanted:
            return []
        now = utcnow()
        c = recording_downloads.c
        queued: list[int] = []
        for new in wanted:
            insert = self._insert(recording_downloads).values(
                file_id=new.file_id,
                recording_uuid=new.recording_uuid,
                app=app,
                account_id=account_id,
                status="pending",
                storage=storage,
                storage_key=new.storage_key,
                expected_size=new.expected_size,
                inbox_id=inbox_id,
                created_at=now,
                updated_at=now,
            )
            statement = insert.on_conflict_do_update(
                index_elements=["file_id"],
                set_={
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": None,
                    "finished_at": None,
                    "inbox_id": inbox_id,
                    "expected_size": insert.excluded.expected_size,
                    "updated_at": now,
                },
                where=c.status == "failed",
            ).returning(c.id)
            job_id = conn.execute(statement).scalar_one_or_none()
            if job_id is not None:
                queued.append(job_id)
                _summary(conn, new.file_id, download_state="pending", last_error=None)
        return queued

    def claim(self, job_id: int, owner: str) -> DownloadJob | None:
        """Take a due `pending` job (or one whose lease ran out); None if not now."""
        c = recording_downloads.c
        with self.engine.begin() as conn:
            rows = self.leases.claim(
                conn,
                [job_id],
                owner,
                (
                    c.id,
                    c.file_id,
                    c.recording_uuid,
                    c.app,
                    c.account_id,
                    c.attempts,
                    c.storage,
                    c.storage_key,
                    c.expected_size,
                ),
                claimed_by=worker_identity(),
            )
        if not rows:
            return None
        return DownloadJob(**rows[0]._mapping, owner=owner)

    def source(self, job: DownloadJob) -> Source:
        """The file's URL and size, and its recording's newest download token."""
        f, r = recording_files.c, recordings.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(f.download_url, f.file_size, r.download_token, r.event_ts)
                .select_from(recording_files.outerjoin(recordings, r.uuid == f.recording_uuid))
                .where(f.id == job.file_id)
            ).first()
        if row is None:
            return Source(None, None)
        return Source(row.download_url, row.file_size, row.download_token, row.event_ts)

    def progress(self, job: DownloadJob, bytes_stored: int) -> bool:
        """Record how far the transfer got (the lease stays); False: the lease was lost."""
        return self._write(job, bytes_stored=bytes_stored)

    def done(self, job: DownloadJob, *, size: int, sha256: str, uri: str, auth: str | None) -> bool:
        now = utcnow()
        return self._write(
            job,
            status="done",
            bytes_stored=size,
            verified_size=size,
            auth=auth,
            last_error=None,
            next_attempt_at=None,
            finished_at=now,
            summary={
                "download_state": "stored",
                "storage_uri": uri,
                "bytes_stored": size,
                "sha256": sha256,
                "verified": True,
                "downloaded_at": now,
                "last_error": None,
            },
        )

    def reschedule(
        self, job: DownloadJob, *, at: datetime, error: str, bytes_stored: int, auth: str | None
    ) -> bool:
        """Back to `pending` until `at`, keeping the bytes stored so far for the resume."""
        return self._write(
            job,
            status="pending",
            next_attempt_at=at,
            last_error=error[:MAX_ERROR_LENGTH],
            bytes_stored=bytes_stored,
            auth=auth,
            summary={"last_error": error[:MAX_ERROR_LENGTH]},
        )

    def fail(self, job: DownloadJob, *, error: str, bytes_stored: int, auth: str | None) -> bool:
        """`failed` for good (until a redelivery or an operator asks again)."""
        return self._write(
            job,
            status="failed",
            next_attempt_at=None,
            finished_at=utcnow(),
            last_error=error[:MAX_ERROR_LENGTH],
            bytes_stored=bytes_stored,
            auth=auth,
            summary={"download_state": "failed", "last_error": error[:MAX_ERROR_LENGTH]},
        )

    def _write(
        self, job: DownloadJob, summary: dict[str, Any] | None = None, **values: Any
    ) -> bool:
        try:
            with self.engine.begin() as conn:
                self.leases.finish(conn, job.id, job.owner, **values)
                if summary:
                    _summary(conn, job.file_id, **summary)
                if values.get("status") in ("done", "failed"):
                    _forget_token(conn, job.recording_uuid)
        except LeaseLost:
            return False
        return True

    def get(self, file_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(recording_downloads).where(recording_downloads.c.file_id == file_id)
            ).first()
        return dict(row._mapping) if row is not None else None

    def recent(self, *, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The newest jobs first, with their recording's topic and host."""
        c, r = recording_downloads.c, recordings.c
        query = (
            select(recording_downloads, r.topic, r.host_email)
            .select_from(recording_downloads.outerjoin(recordings, r.uuid == c.recording_uuid))
            .order_by(c.id.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(c.status == status)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def unfinished_of(self, followup_ids: Sequence[int]) -> int:
        """How many downloads of the recordings of these follow-ups' instances are still to
        run (what a backfill queued, for its report)."""
        c = recording_downloads.c
        backfilled = select(followups.c.instance_uuid).where(followups.c.id.in_(followup_ids))
        query = select(func.count()).where(
            c.recording_uuid.in_(backfilled), c.status.in_(UNFINISHED)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def failed_ids(self) -> list[int]:
        c = recording_downloads.c
        with self.engine.connect() as conn:
            return list(
                conn.execute(select(c.id).where(c.status == "failed").order_by(c.id)).scalars()
            )


def _summary(conn: Connection, file_id: str, **values: Any) -> None:
    conn.execute(update(recording_files).where(recording_files.c.id == file_id).values(**values))


def _forget_token(conn: Connection, recording_uuid: str) -> None:
    """Once no download of the recording is left to run, its `download_token` (a secret that
    fetches every file of the recording for 24 h) is of no more use here: drop it."""
    c = recording_downloads.c
    busy = conn.execute(
        select(c.id).where(c.recording_uuid == recording_uuid, c.status.in_(UNFINISHED)).limit(1)
    ).first()
    if busy is None:
        conn.execute(
            update(recordings)
            .where(recordings.c.uuid == recording_uuid)
            .values(download_token=None)
        )
