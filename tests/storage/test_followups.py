"""The follow-up job repository: who runs a job, and sweepers that pass over held rows."""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from service.storage import db, migrate
from service.storage.followups import DEFAULT_CREATE_CHUNK, Followups, NewFollowups
from service.storage.lease import LeaseLost
from service.storage.models import followups
from service.storage.types import utcnow


@pytest.fixture
def jobs(database_url: str) -> Followups:
    engine = db.create(database_url)
    migrate.upgrade(engine)
    return Followups(engine)


def create(jobs: Followups, uuid: str) -> list[int]:
    with jobs.engine.begin() as conn:
        made = jobs.create(
            conn,
            instance_uuid=uuid,
            kind="webinar",
            resources=("participants", "qa"),
            account_id="acct",
            inbox_id=None,
            first_attempt_at=utcnow(),
        )
    return [job_id for job_id, _ in made]


def test_a_claim_names_the_process_that_runs_the_job(jobs: Followups) -> None:
    job_id = create(jobs, "u1==")[0]
    job = jobs.claim(job_id, "owner-1")
    assert job is not None and job.owner == "owner-1"
    with jobs.engine.connect() as conn:
        claimed_by = conn.execute(
            select(followups.c.claimed_by).where(followups.c.id == job_id)
        ).scalar_one()
    assert claimed_by.endswith(f":{os.getpid()}")


@pytest.mark.postgres
def test_a_sweeper_passes_over_jobs_another_is_taking(postgres_url: str) -> None:
    jobs = Followups(db.create(postgres_url))
    migrate.upgrade(jobs.engine)
    ids = create(jobs, "a==") + create(jobs, "b==")
    with jobs.engine.begin() as conn:
        hour_ago = utcnow() - timedelta(hours=1)
        conn.execute(update(followups).values(updated_at=hour_ago, next_attempt_at=hour_ago))
    cutoff = utcnow() - timedelta(minutes=5)
    held = jobs.engine.connect()
    transaction = held.begin()
    held.execute(select(followups.c.id).where(followups.c.id.in_(ids[:2])).with_for_update())
    taken: list[int] = []

    def sweep() -> None:
        found = jobs.sweep(due_before=cutoff)
        taken.extend(job_id for job_id, _ in found)

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    sweeper.join(10)
    try:
        assert not sweeper.is_alive(), "the sweeper waited for the locked jobs"
        assert taken == ids[2:]
    finally:
        transaction.rollback()
        held.close()
        sweeper.join(10)
        jobs.engine.dispose()


def test_a_wait_parked_on_the_row_is_swept_once_due_and_not_before(jobs: Followups) -> None:
    """A long wait (429 until midnight, not ready for hours) is no broker message: the row's
    `next_attempt_at` is all, and the sweeper enqueues the job once it is due."""
    job_id = create(jobs, "p==")[0]
    job = jobs.claim(job_id, "w")
    assert job is not None
    later = utcnow() + timedelta(hours=4)
    assert jobs.reschedule(job, at=later, error="not ready", tracking_id=None)
    with jobs.engine.begin() as conn:  # rescheduled long ago
        conn.execute(update(followups).values(updated_at=utcnow() - timedelta(hours=5)))
    cutoff = utcnow() - timedelta(minutes=5)
    assert job_id not in [j for j, _ in jobs.sweep(due_before=cutoff)]
    with jobs.engine.begin() as conn:  # the four hours have passed
        conn.execute(
            update(followups)
            .where(followups.c.id == job_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    assert [j for j, _ in jobs.sweep(due_before=cutoff)] == [job_id]


def test_a_running_job_whose_lease_ran_out_is_swept_and_its_holder_cannot_finish(
    jobs: Followups,
) -> None:
    job_id = create(jobs, "l==")[0]
    job = jobs.claim(job_id, "killed")
    assert job is not None
    assert jobs.sweep(due_before=utcnow() - timedelta(minutes=5)) == []
    with jobs.engine.begin() as conn:
        conn.execute(update(followups).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert [j for j, _ in jobs.sweep(due_before=utcnow() - timedelta(minutes=5))] == [job_id]
    taken = jobs.claim(job_id, "new")
    assert taken is not None and taken.attempts == 2
    with jobs.engine.begin() as conn:
        assert not jobs.done(conn, job, rows_stored=1, tracking_id=None)
        with pytest.raises(LeaseLost):
            jobs.progress(conn, job)
        assert jobs.done(conn, taken, rows_stored=3, tracking_id=None)


def request(uuid: str, inbox_id: int, *resources: str) -> NewFollowups:
    return NewFollowups(uuid, "webinar", resources, "acct", inbox_id, utcnow(), app="main")


def test_many_requests_create_each_job_once_in_one_go(jobs: Followups) -> None:
    existing = create(jobs, "old==")  # participants, qa
    requests = [
        request("new==", 1, "participants", "qa", "polls"),
        request("old==", 2, "participants", "polls"),  # participants exists already
        request("new==", 3, "participants", "report"),  # a second ended of one instance
    ]
    with jobs.engine.begin() as conn:
        made = jobs.create_many(conn, requests)
    # Each new job once, from the first request that asked for it, in the order created.
    assert [(r.instance_uuid, r.inbox_id) for r, _, _ in made] == [
        ("new==", 1),
        ("new==", 1),
        ("new==", 1),
        ("old==", 2),
        ("new==", 3),
    ]
    assert [at for r, _, at in made] == [r.first_attempt_at for r, _, _ in made]
    ids = [job_id for _, job_id, _ in made]
    assert ids == sorted(ids) and not set(ids) & set(existing)
    with jobs.engine.connect() as conn:
        stored = conn.execute(
            select(followups.c.id, followups.c.instance_uuid, followups.c.resource)
        ).all()
    assert sorted((uuid, resource) for _, uuid, resource in stored) == [
        ("new==", "participants"),
        ("new==", "polls"),
        ("new==", "qa"),
        ("new==", "report"),
        ("old==", "participants"),
        ("old==", "polls"),
        ("old==", "qa"),
    ]
    assert {job_id: (uuid, res) for job_id, uuid, res in stored}[ids[3]] == ("old==", "polls")


def test_requests_beyond_one_statement_are_all_created(jobs: Followups) -> None:
    many = [request(f"u{n}==", n, "participants", "qa") for n in range(DEFAULT_CREATE_CHUNK)]
    with jobs.engine.begin() as conn:
        made = jobs.create_many(conn, many)
    assert len(made) == 2 * DEFAULT_CREATE_CHUNK
    assert {(r.instance_uuid, job_id) for r, job_id, _ in made} == {
        (f"u{n}==", job_id) for n, job_id in _stored_ids(jobs)
    }


def _stored_ids(jobs: Followups) -> list[tuple[int, int]]:
    with jobs.engine.connect() as conn:
        found = conn.execute(select(followups.c.inbox_id, followups.c.id)).all()
    return [(inbox_id, job_id) for inbox_id, job_id in found]
