"""The follow-up job repository: who runs a job, and sweepers that pass over held rows."""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from service.storage import db, migrate
from service.storage.followups import Followups
from service.storage.models import followups
from service.storage.types import utcnow

TIMEOUT = timedelta(minutes=5)


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
    assert jobs.claim(job_id, running_timeout=TIMEOUT) is not None
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
        found = jobs.sweep(due_before=cutoff, running_before=cutoff)
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
