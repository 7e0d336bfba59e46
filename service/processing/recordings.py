"""Queueing recording downloads: after the live handler has stored a `recording.completed` or
`recording.transcript_completed` (or a backfill has stored a recording it fetched, see
`service.processing.sources`), a job per wanted file, in the same transaction, enqueued once it
commits. Only wired when ZOOMHOOKS_RECORDINGS_STORAGE is set."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from sqlalchemy import Connection

from service.objectstore import object_key
from service.processing.handlers import Context, Handler, Outcome
from service.processing.shape import (
    Row,
)
from service.processing.shape_recordings import (
    RECORDING_EVENTS,
    recording_file_rows,
    recording_row,
)
from service.recording_settings import RecordingDownloads
from service.storage.downloads import DownloadJobs, NewDownload
from service.storage.types import utcnow

#: Enqueue a download job to run no earlier than the given time.
ScheduleDownload = Callable[[int, datetime], None]


class DownloadHandlers:
    def __init__(
        self, config: RecordingDownloads, jobs: DownloadJobs, schedule: ScheduleDownload
    ) -> None:
        self.config = config
        self.jobs = jobs
        self.schedule = schedule

    def wrap(self, handlers: Mapping[str, Handler]) -> dict[str, Handler]:
        """`handlers` with the recording events also queueing their downloads."""
        table = dict(handlers)
        for name in RECORDING_EVENTS:
            live = handlers.get(name)
            if live is not None:
                table[name] = functools.partial(self._handle, live)
        return table

    def _handle(self, live: Handler, ctx: Context) -> Outcome:
        outcome = live(ctx)
        recording = recording_row(ctx.event, ctx.inbox_id)
        if outcome != "done" or recording is None:
            return outcome
        files = recording_file_rows(ctx.event, ctx.inbox_id)
        self.queue(ctx.conn, recording, files, ctx.after_commit, app=ctx.app, inbox_id=ctx.inbox_id)
        return outcome

    def queue(
        self,
        conn: Connection,
        recording: Row,
        files: Iterable[Row],
        after_commit: list[Callable[[], None]],
        *,
        app: str | None,
        inbox_id: int | None,
    ) -> int:
        """A job per wanted file of a recording just stored on `conn`, each enqueued by
        `after_commit` once `conn` commits (a webhook's, or a backfill's); how many."""
        account = recording["account_id"]
        wanted = [
            NewDownload(
                file_id=f["id"],
                recording_uuid=f["recording_uuid"],
                storage_key=object_key(
                    account, f["recording_uuid"], f["id"], f["file_extension"] or f["file_type"]
                ),
                expected_size=f["file_size"],
            )
            for f in files
            if f["download_url"] and self.config.wants(f["file_type"])
        ]
        queued = self.jobs.create(
            conn,
            wanted,
            app=app,
            account_id=account,
            inbox_id=inbox_id,
            storage=self.config.storage.display,
        )
        now = utcnow()
        for job_id in queued:
            after_commit.append(functools.partial(self.schedule, job_id, now))
        return len(queued)
