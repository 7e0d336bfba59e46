"""Horizontal scale: one web and two worker processes on PostgreSQL and a real broker take
thousands of participant events and dozens of `webinar.ended`, while the fake Zoom throws 429
storms and 5xx at them; the tables come out exact, with no Zoom call beyond the minimum but
for the faults, and no second in which the account's budget was exceeded."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from service.devtools.fakezoom import DEFAULT_ACCOUNT_ID, Instance, RunningFake
from tests.support import wait_until
from tests.topology.cluster import (
    WEBINAR_JOBS,
    all_processed,
    api_calls,
    dumps,
    ended,
    environment,
    expected,
    expected_counts,
    minimum_calls,
    participant_event,
    row_counts,
    running_cluster,
    stored,
)

WEBINARS = 24
PARTICIPANT_EVENTS = 2400
#: Redeliveries among the participant events: Zoom sends duplicates.
DUPLICATES = 120
#: Business at 20 %: Medium 12/s, Heavy 8/s for the whole cluster.
PLAN, SHARE = "business", "0.2"
BUDGET_PER_SECOND = {"Medium": 12, "Heavy": 8}

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(300)]


def webinars(fake: RunningFake) -> list[Instance]:
    world = fake.fake.world
    return [
        world.add_webinar(
            84_000_000_000 + i,
            participants=(i % 3) * 300 + 120,  # one to three pages
            absentees=i % 4 * 7,
            questions=i % 5,
            polls=1 + i % 2,
            seed=i,
        )
        for i in range(WEBINARS)
    ]


def test_two_workers_and_a_web_process_under_load(
    postgres_url: str,
    database: Engine,
    real_broker_url: str,
    queue_prefix: str,
    fake: RunningFake,
    tmp_path: Path,
) -> None:
    instances = webinars(fake)
    faults = [
        # A 429 storm: three in a row, twice, and more on another endpoint.
        fake.fake.faults.rate_limit("/v2/past_webinars/*/participants", count=3, skip=5),
        fake.fake.faults.rate_limit("/v2/past_webinars/*/participants", count=3, skip=30),
        fake.fake.faults.rate_limit("/v2/past_webinars/*/polls", count=4, skip=10),
        fake.fake.faults.server_error("/v2/past_webinars/*/absentees", count=6, status=503),
        fake.fake.faults.server_error("/v2/past_webinars/*/qa", count=4, status=502, skip=3),
    ]
    env = environment(
        postgres_url,
        real_broker_url,
        queue_prefix,
        fake,
        ZOOMHOOKS_ZOOM_PLAN=PLAN,
        ZOOMHOOKS_ZOOM_RATE_SHARE=SHARE,
    )
    rng = random.Random(7)
    bodies = [
        participant_event(
            "webinar", instances[n % WEBINARS], n, joined=n % 2 == 0, event_ts=1_700_000_000_000 + n
        )
        for n in range(PARTICIPANT_EVENTS)
    ]
    bodies += rng.sample(bodies, DUPLICATES)
    bodies += [
        ended("webinar", inst, event_ts=1_709_000_000_000 + inst.id % 1000) for inst in instances
    ]
    rng.shuffle(bodies)
    with running_cluster(tmp_path, env) as cluster:
        cluster.start(workers=2)
        started = time.monotonic()
        statuses = cluster.post_all(bodies)
        print(f"posted {len(bodies)} in {time.monotonic() - started:.1f}s")
        assert statuses.count(200) == len(bodies), sorted(set(statuses))
        events, jobs = PARTICIPANT_EVENTS + WEBINARS, WEBINAR_JOBS * WEBINARS
        wait_until(lambda: all_processed(database, events, jobs), timeout=240, interval=0.5)
        print(f"processed after {time.monotonic() - started:.1f}s")
        truth = expected(instances)
        found = stored(database)
        for table in ("participants", "absentees", "qa", "polls"):
            assert found[table] == truth[table], table
        counts = row_counts(database)
        assert {k: counts[k] for k in truth} == expected_counts(instances)
        assert counts["participant_events"] == PARTICIPANT_EVENTS
        # Every call is one the work needs, or one that a fault answered.
        fired = sum(f.fired for f in faults)
        assert [f.fired for f in faults] == [3, 3, 4, 6, 4]
        minimum = minimum_calls(instances)
        assert sum(api_calls(fake).values()) == sum(minimum.values()) + fired, dumps(
            {"calls": api_calls(fake), "minimum": minimum}
        )
        # One token for every process of the cluster.
        assert fake.fake.tokens_issued == 1
        for category, budget in BUDGET_PER_SECOND.items():
            peak = fake.fake.peak_rate(category=category, account_id=DEFAULT_ACCOUNT_ID)
            assert peak <= budget, (category, peak)
