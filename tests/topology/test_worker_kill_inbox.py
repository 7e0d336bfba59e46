"""kill -9 a worker while it holds inbox rows: every acknowledged event is processed within
60 s of the kill (its leases run out and the sweeper hands the rows on), exactly once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from service.devtools.fakezoom import RunningFake
from service.storage.models import participant_events, webhook_events
from tests.support import wait_until
from tests.topology.cluster import environment, inbox_statuses, participant_event, running_cluster

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(300)]

EVENTS = 1500
#: The issue's bound: every acknowledged event processed this soon after the kill (seconds).
RECOVERY_SECONDS = 60


def holder_pid(database: Engine) -> int | None:
    """The pid of a worker holding a `processing` row now (lease_owner is host:pid:nonce/n)."""
    with database.connect() as conn:
        owner = conn.execute(
            select(webhook_events.c.lease_owner)
            .where(webhook_events.c.status == "processing")
            .limit(1)
        ).scalar_one_or_none()
    return int(owner.split(":")[1]) if owner else None


def test_a_killed_workers_rows_are_processed_within_a_minute(
    postgres_url: str,
    database: Engine,
    real_broker_url: str,
    queue_prefix: str,
    fake: RunningFake,
    tmp_path: Path,
) -> None:
    inst = fake.fake.world.add_webinar(85_000_000_002, participants=1)
    env = environment(
        postgres_url,
        real_broker_url,
        queue_prefix,
        fake,
        # The default sweep interval: the lease's own cadence must bring the rows back.
        ZOOMHOOKS_SWEEP_INTERVAL_SECONDS="60",
    )
    bodies = [
        participant_event("webinar", inst, n, joined=True, event_ts=1_000 + n)
        for n in range(EVENTS)
    ]
    with running_cluster(tmp_path, env) as cluster:
        cluster.start(workers=2)
        statuses: list[int] = []
        sender = threading.Thread(target=lambda: statuses.extend(cluster.post_all(bodies)))
        sender.start()
        worker_pids = {w.pid for w in cluster.workers}
        victim: int | None = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:
            pid = holder_pid(database)
            victim = pid if pid in worker_pids else None
        assert victim is not None, "no worker was seen holding a row"
        cluster.kill(victim)
        killed_at = time.monotonic()
        sender.join(120)
        assert statuses.count(200) == EVENTS, "every delivery is acknowledged"

        def all_done() -> bool:
            return inbox_statuses(database) == {"done": EVENTS}

        wait_until(all_done, timeout=RECOVERY_SECONDS + 30, interval=0.5)
        recovered_after = time.monotonic() - killed_at
        assert recovered_after <= RECOVERY_SECONDS, f"took {recovered_after:.0f} s"
        with database.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(participant_events)).scalar_one()
            retried = conn.execute(
                select(func.count()).where(webhook_events.c.attempts > 1)
            ).scalar_one()
        assert rows == EVENTS  # no duplicate rows
        print(f"recovered {recovered_after:.1f} s after the kill; {retried} rows retried")
