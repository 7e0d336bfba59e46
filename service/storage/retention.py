"""Retention: deleting rows past their age, in short batches.

The inbox keeps whole request bodies (names, e-mails), the timeline grows by a row per
participant event, and every instance brings its fetched reports. Deletes go in batches of
`batch` rows, each its own transaction, so a purge of millions of rows never holds SQLite's one
writer (or PostgreSQL row locks) for long, and ingest goes on between batches. Nothing still to
be processed is deleted by age: not an unfinished inbox row, not an instance with a follow-up
still to run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, delete, func, select

from service.config import Settings
from service.storage.models import (
    absentees,
    followups,
    instance_details,
    instances,
    participant_events,
    participants,
    poll_answers,
    qa_entries,
    recording_downloads,
    recording_files,
    recordings,
    registrant_answers,
    registrants,
    report_participants,
    webhook_events,
)

#: Rows one delete transaction takes at most.
DEFAULT_PURGE_BATCH = 1000
#: Instances whose rows one round of an instance purge deletes.
INSTANCES_PER_ROUND = 50
#: Inbox statuses a purge by age may delete (never an event still to be processed).
DONE = ("done", "ignored")
FAILED = ("failed",)
#: Follow-up jobs that keep their instance from an age purge: they still fetch into it.
BUSY_FOLLOWUPS = ("pending", "running")
#: What an instance purge deletes with the instance, each keyed by `instance_uuid`.
PER_INSTANCE: tuple[Table, ...] = (
    participants,
    absentees,
    qa_entries,
    poll_answers,
    report_participants,
    instance_details,
    participant_events,
    followups,
)
#: What goes with a webinar number once none of its instances is left: its registrants.
PER_WEBINAR: tuple[Table, ...] = (registrant_answers, registrants)


@dataclass(frozen=True, slots=True)
class Ages:
    """Days each kind of row is kept; None keeps it forever."""

    events: int | None = None  # inbox events done or ignored
    failed: int | None = None  # failed inbox events; None: as `events`
    timeline: int | None = None  # participant_events
    #: instances with their follow-ups and fetched rows; recordings (rows, not files) too
    instances: int | None = None

    @classmethod
    def configured(cls, settings: Settings) -> Ages:
        """The environment's: the scheduled purge's ages, and the command's defaults."""
        return cls(
            events=settings.retention_events_days,
            failed=settings.retention_failed_days,
            timeline=settings.retention_timeline_days,
            instances=settings.retention_instances_days,
        )

    def __bool__(self) -> bool:
        return any((self.events, self.failed, self.timeline, self.instances))

    def cutoffs(self, now: datetime) -> Cutoffs:
        def before(days: int | None) -> datetime | None:
            return now - timedelta(days=days) if days else None

        return Cutoffs(
            events=before(self.events),
            failed=before(self.failed or self.events),
            timeline=before(self.timeline),
            instances=before(self.instances),
        )


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows older than these are purged; None keeps that kind of row."""

    events: datetime | None = None
    failed: datetime | None = None
    timeline: datetime | None = None
    instances: datetime | None = None


def key_of(table: Table) -> ColumnElement[int]:
    return table.c["pk" if "pk" in table.c else "id"]


def count(engine: Engine, table: Table, where: ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())


def delete_batched(engine: Engine, table: Table, where: ColumnElement[bool], batch: int) -> int:
    """Delete the rows `where` selects, `batch` at a time, each batch its own transaction.

    It walks the key upwards rather than starting over, so PostgreSQL never re-reads the dead
    index entries of the batches before (which would make a big purge quadratic). On PostgreSQL
    it skips rows another transaction holds (a redelivery bumping an old event, a concurrent
    purge), so it never waits on ingest; a later run takes them. The DELETE repeats `where`: a
    row that changed since it was selected (a failed event replayed) stays.
    """
    key = key_of(table)
    total, after = 0, None
    while True:
        with engine.begin() as conn:
            query = (
                select(key)
                .where(where)
                .order_by(key)
                .limit(batch)
                .with_for_update(skip_locked=True)  # nothing on SQLite: one writer
            )
            if after is not None:
                query = query.where(key > after)
            ids = conn.execute(query).scalars().all()
            if not ids:
                return total
            total += conn.execute(delete(table).where(key.in_(ids) & where)).rowcount
        after = ids[-1]


def _aged_rows(cutoffs: Cutoffs) -> Iterator[tuple[str, Table, ColumnElement[bool]]]:
    c = webhook_events.c
    if cutoffs.events is not None:
        yield (
            "webhook_events",
            webhook_events,
            c.status.in_(DONE) & (c.received_at < cutoffs.events),
        )
    if cutoffs.failed is not None:
        yield (
            "webhook_events",
            webhook_events,
            c.status.in_(FAILED) & (c.received_at < cutoffs.failed),
        )
    if cutoffs.timeline is not None:
        # A row without `at` never ages by it: an instance purge (or an erasure) takes it.
        at = participant_events.c.at
        yield "participant_events", participant_events, at < cutoffs.timeline


def _old_instances(cutoff: datetime, table: Any = instances) -> ColumnElement[bool]:
    c = table.c
    busy = (
        select(followups.c.id)
        .where(followups.c.instance_uuid == c.uuid, followups.c.status.in_(BUSY_FOLLOWUPS))
        .exists()
    )
    return (func.coalesce(c.end_time, c.start_time, c.created_at) < cutoff) & ~busy


def _of_instances(
    table: Table, uuids: ColumnElement[str] | list[str], timeline: datetime | None
) -> ColumnElement[bool]:
    where: ColumnElement[bool] = table.c.instance_uuid.in_(uuids)
    if table is followups:  # a job made again meanwhile (a backfill) is not deleted
        where = where & ~followups.c.status.in_(BUSY_FOLLOWUPS)
    if table is participant_events and timeline is not None:  # counted by age already
        where = where & (table.c.at.is_(None) | (table.c.at >= timeline))
    return where


def _of_webinars(table: Table, numbers: Any) -> ColumnElement[bool]:
    """Rows of the webinar numbers `numbers` that no instance is left of (but `old` ones)."""
    return table.c.webinar_id.in_(numbers)


def _gone_numbers(cutoff: datetime) -> Any:
    """Webinar numbers all of whose instances are old: their registrants go with them (a
    number with no instance yet, registrations for a future webinar, is never one)."""
    other = instances.alias("other")
    kept = select(other.c.zoom_id).where(
        ~_old_instances(cutoff, other), other.c.zoom_id.is_not(None)
    )
    c = instances.c
    return select(c.zoom_id).where(
        _old_instances(cutoff), c.kind == "webinar", c.zoom_id.not_in(kept)
    )


def _count_instances(engine: Engine, cutoff: datetime, timeline: datetime | None) -> dict[str, int]:
    old = _old_instances(cutoff)
    uuids = select(instances.c.uuid).where(old).scalar_subquery()
    found = {t.name: count(engine, t, _of_instances(t, uuids, timeline)) for t in PER_INSTANCE}
    gone = _gone_numbers(cutoff).scalar_subquery()
    found |= {t.name: count(engine, t, _of_webinars(t, gone)) for t in PER_WEBINAR}
    return {"instances": count(engine, instances, old), **found}


def _delete_instances(
    engine: Engine, cutoff: datetime, timeline: datetime | None, batch: int
) -> dict[str, int]:
    old = _old_instances(cutoff)
    found = dict.fromkeys(
        ["instances", *(t.name for t in PER_INSTANCE), *(t.name for t in PER_WEBINAR)], 0
    )
    after = None
    while True:
        query = select(instances.c.id, instances.c.uuid).where(old).order_by(instances.c.id)
        if after is not None:
            query = query.where(instances.c.id > after)
        with engine.connect() as conn:
            round_ = conn.execute(query.limit(INSTANCES_PER_ROUND)).all()
        if not round_:
            return found
        uuids = [row.uuid for row in round_]
        with engine.connect() as conn:  # before the instances that say so are gone
            numbers = list(
                conn.execute(
                    _gone_numbers(cutoff).where(instances.c.uuid.in_(uuids)).distinct()
                ).scalars()
            )
        # The instance goes last, so a purge stopped halfway finds it again next time.
        for table in PER_INSTANCE:
            where = _of_instances(table, uuids, timeline)
            found[table.name] += delete_batched(engine, table, where, batch)
        found["instances"] += delete_batched(
            engine, instances, instances.c.uuid.in_(uuids) & old, batch
        )
        for table in PER_WEBINAR if numbers else ():
            found[table.name] += delete_batched(engine, table, _of_webinars(table, numbers), batch)
        after = round_[-1].id


def _recordings(engine: Engine, cutoff: datetime, *, dry_run: bool, batch: int) -> dict[str, int]:
    """Recordings as old as an instance purge's cutoff, with their files' rows and download
    jobs; not one with a download still to run. The stored files themselves are the
    operator's: a purge never deletes them (docs/operations.md)."""
    r, d = recordings.c, recording_downloads.c
    busy = select(d.id).where(d.recording_uuid == r.uuid, d.status.in_(BUSY_FOLLOWUPS)).exists()
    old = (func.coalesce(r.start_time, r.created_at) < cutoff) & ~busy
    uuids = select(r.uuid).where(old).scalar_subquery()
    # The recording goes last, so a purge stopped halfway finds its files again next time.
    steps: list[tuple[Table, ColumnElement[bool]]] = [
        (recording_downloads, d.recording_uuid.in_(uuids) & ~d.status.in_(BUSY_FOLLOWUPS)),
        (recording_files, recording_files.c.recording_uuid.in_(uuids)),
        (recordings, old),
    ]
    return {
        table.name: count(engine, table, where)
        if dry_run
        else delete_batched(engine, table, where, batch)
        for table, where in steps
    }


def purge(
    engine: Engine, cutoffs: Cutoffs, *, dry_run: bool = False, batch: int = DEFAULT_PURGE_BATCH
) -> dict[str, int]:
    """Rows deleted (or, with `dry_run`, that would be) per table."""
    found: dict[str, int] = {}
    for name, table, where in _aged_rows(cutoffs):
        n = count(engine, table, where) if dry_run else delete_batched(engine, table, where, batch)
        found[name] = found.get(name, 0) + n
    if cutoffs.instances is not None:
        by_instance = (
            _count_instances(engine, cutoffs.instances, cutoffs.timeline)
            if dry_run
            else _delete_instances(engine, cutoffs.instances, cutoffs.timeline, batch)
        )
        by_instance |= _recordings(engine, cutoffs.instances, dry_run=dry_run, batch=batch)
        for name, n in by_instance.items():
            found[name] = found.get(name, 0) + n
    return found
