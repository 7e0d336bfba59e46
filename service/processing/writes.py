"""Where the live handlers' writes go: to the database at once, or gathered for a batch.

A row processed on its own writes as its handler runs. A batch of rows in one transaction
(processing on ingest, a worker's batch) gathers them and writes them at the end, one
executemany per table: one statement per handler call cost more CPU than the database work
(bench/ingest). The tables gathered have no foreign keys and no handler reads them back,
so writing a table's rows together, in their order, leaves what writing them one by one
would. (A recording's files are written at once: the download handler updates them.) A
failure surfaces at `flush`, inside the batch's transaction, which then rolls back as a
whole, as a handler's failure would.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection

from service.storage import records
from service.storage.followups import Followups, NewFollowups

#: Enqueue a follow-up job to run no earlier than the given time.
Schedule = Callable[[int, datetime], None]


class Writes:
    """Straight to the database (one row's handler)."""

    def __init__(self, conn: Connection, after_commit: list[Callable[[], None]]) -> None:
        self.conn = conn
        self.after_commit = after_commit

    def instance(self, row: records.Row, inbox_id: int | None) -> None:
        """Merge into the instance; raises KindConflict (here or at `flush`)."""
        records.upsert_instance(self.conn, row, inbox_id)

    def timeline(self, row: records.Row) -> None:
        records.add_participant_event(self.conn, row)

    def recording(self, row: records.Row, files: Sequence[records.Row]) -> None:
        """At once, gathered or not: the download handler marks the files it queues."""
        records.upsert_recording(self.conn, row, files)

    def followups(self, jobs: Followups, request: NewFollowups, schedule: Schedule) -> None:
        """Create the jobs not created yet; `schedule` each new one once committed."""
        self._scheduled(schedule, jobs.create_many(self.conn, [request]))

    def flush(self) -> None:
        """Write whatever is gathered (nothing here)."""

    def _scheduled(
        self, schedule: Schedule, created: list[tuple[NewFollowups, int, datetime]]
    ) -> None:
        for _, job_id, at in created:
            self.after_commit.append(functools.partial(schedule, job_id, at))


class GatheredWrites(Writes):
    """Gathered until `flush`, then one statement per table (a batch's handlers)."""

    def __init__(self, conn: Connection, after_commit: list[Callable[[], None]]) -> None:
        super().__init__(conn, after_commit)
        self._instances: list[tuple[records.Row, int | None]] = []
        self._timeline: list[records.Row] = []
        self._followups: dict[tuple[Followups, Schedule], list[NewFollowups]] = {}

    def instance(self, row: records.Row, inbox_id: int | None) -> None:
        self._instances.append((row, inbox_id))

    def timeline(self, row: records.Row) -> None:
        self._timeline.append(row)

    def followups(self, jobs: Followups, request: NewFollowups, schedule: Schedule) -> None:
        self._followups.setdefault((jobs, schedule), []).append(request)

    def flush(self) -> None:
        instances, self._instances = self._instances, []
        timeline, self._timeline = self._timeline, []
        followups, self._followups = self._followups, {}
        records.upsert_instances(self.conn, instances)
        records.add_participant_events(self.conn, timeline)
        for (jobs, schedule), requests in followups.items():
            self._scheduled(schedule, jobs.create_many(self.conn, requests))
