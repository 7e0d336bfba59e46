"""kill -9 a worker in the middle of a follow-up: the job is taken back and finished by the
other worker, and the tables come out exact."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from service.devtools.fakezoom import RunningFake
from service.storage.models import followups
from tests.support import wait_until
from tests.topology.cluster import (
    WEBINAR_JOBS,
    all_processed,
    api_calls,
    dumps,
    ended,
    environment,
    expected,
    minimum_calls,
    running_cluster,
    stored,
)

OPERATIONS = {
    "listWebinarParticipants": "participants",
    "webinarAbsentees": "absentees",
    "listPastWebinarQA": "qa",
    "listPastWebinarPollResults": "polls",
}

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(300)]

#: How long the first participants page takes: long enough to kill its worker mid-call.
SLOW_PAGE_SECONDS = 2.0


def test_a_worker_killed_mid_follow_up(
    postgres_url: str,
    database: Engine,
    real_broker_url: str,
    queue_prefix: str,
    fake: RunningFake,
    tmp_path: Path,
) -> None:
    inst = fake.fake.world.add_webinar(85_000_000_001, participants=700, absentees=5, questions=3)
    slow = fake.fake.faults.slow(SLOW_PAGE_SECONDS, "/v2/past_webinars/*/participants", count=1)
    env = environment(
        postgres_url,
        real_broker_url,
        queue_prefix,
        fake,
        # A killed worker's lease runs out after this; live ones are renewed well inside it.
        ZOOMHOOKS_LEASE_SECONDS="10",
        ZOOMHOOKS_ZOOM_PLAN="business",
    )
    with running_cluster(tmp_path, env) as cluster:
        cluster.start(workers=2)
        assert cluster.post_all([ended("webinar", inst, event_ts=1)]) == [200]

        def running_participants() -> str | None:
            with database.connect() as conn:
                row = conn.execute(
                    select(followups.c.status, followups.c.claimed_by).where(
                        followups.c.resource == "participants"
                    )
                ).one_or_none()
            return row.claimed_by if row is not None and row.status == "running" else None

        wait_until(lambda: running_participants() is not None and slow.seen == 1, timeout=60)
        owner = running_participants()
        assert owner is not None
        pid = int(owner.rsplit(":", 1)[1])
        assert pid in {w.pid for w in cluster.workers}
        with database.connect() as conn:
            in_flight = set(
                conn.execute(
                    select(followups.c.resource).where(
                        followups.c.status == "running", followups.c.claimed_by == owner
                    )
                ).scalars()
            )
        cluster.kill(pid)
        wait_until(lambda: all_processed(database, 1, WEBINAR_JOBS), timeout=120, interval=0.5)
        with database.connect() as conn:
            taken_by = conn.execute(
                select(followups.c.claimed_by).where(followups.c.resource == "participants")
            ).scalar_one()
        assert taken_by != owner
        truth, found = expected([inst]), stored(database)
        for table in ("participants", "absentees", "qa", "polls"):
            assert found[table] == truth[table], table
        # Only what the killed worker had in flight is asked for again: at most the pages of
        # the jobs it was running (its other threads may have been mid-call too).
        minimum, calls = minimum_calls([inst]), api_calls(fake)
        for operation, resource in OPERATIONS.items():
            redone = minimum[operation] if resource in in_flight else 0
            assert minimum[operation] <= calls[operation] <= minimum[operation] + redone, dumps(
                {"calls": calls, "in_flight": sorted(in_flight)}
            )
        assert calls["listWebinarParticipants"] > minimum["listWebinarParticipants"]
