"""N worker processes share one account's Zoom budget: the fake Zoom, counting the account's
requests in every one-second window, never sees more than the governor was configured for.
RabbitMQ deployments pace in the database; Redis ones in Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from service.devtools.fakezoom import DEFAULT_ACCOUNT_ID, RunningFake
from tests.support import wait_until
from tests.topology.cluster import (
    WEBINAR_JOBS,
    all_processed,
    api_calls,
    ended,
    environment,
    minimum_calls,
    running_cluster,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(300)]

WORKERS = 3
WEBINARS = 8
#: Pro at 20 %: Medium 4/s, Heavy 2/s, across every worker.
PLAN, SHARE = "pro", "0.2"
BUDGET = {"Medium": 4, "Heavy": 2}


def test_workers_together_stay_within_the_budget(
    postgres_url: str,
    database: Engine,
    real_broker_url: str,
    queue_prefix: str,
    fake: RunningFake,
    tmp_path: Path,
) -> None:
    webinars = [
        fake.fake.world.add_webinar(
            86_000_000_000 + i, participants=900, absentees=3, questions=2, polls=1, seed=i
        )
        for i in range(WEBINARS)
    ]
    env = environment(
        postgres_url,
        real_broker_url,
        queue_prefix,
        fake,
        ZOOMHOOKS_ZOOM_PLAN=PLAN,
        ZOOMHOOKS_ZOOM_RATE_SHARE=SHARE,
    )
    with running_cluster(tmp_path, env) as cluster:
        cluster.start(workers=WORKERS)
        bodies = [ended("webinar", inst, event_ts=i) for i, inst in enumerate(webinars)]
        assert cluster.post_all(bodies) == [200] * WEBINARS
        wait_until(
            lambda: all_processed(database, WEBINARS, WEBINAR_JOBS * WEBINARS),
            timeout=180,
            interval=0.5,
        )
        assert api_calls(fake) == minimum_calls(webinars)
        for category, budget in BUDGET.items():
            peak = fake.fake.peak_rate(category=category, account_id=DEFAULT_ACCOUNT_ID)
            # Without the governor, 3 x 4 threads would put most of the calls in one second.
            assert 1 < peak <= budget, (category, peak)
