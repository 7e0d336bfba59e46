"""The broker stops for 60 s while webhooks keep arriving: every delivery is still answered
200 (it is in the inbox), and once the broker is back every acknowledged event is processed.
A private broker instance is stopped for real; the machine's shared one serves other tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from service.devtools.fakezoom import RunningFake
from tests.private_servers import PrivateServer, private_rabbitmq, private_redis
from tests.support import event_body, wait_until
from tests.topology.cluster import all_processed, environment, inbox_statuses, running_cluster

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(400)]

OUTAGE_SECONDS = 60.0
#: Deliveries per second while the broker is away.
RATE = 5


@pytest.fixture(
    params=[
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def broker(request: pytest.FixtureRequest) -> Iterator[PrivateServer]:
    # Redis keeps nothing on disk here: the queue is lost with it, and the inbox must recover.
    server = private_rabbitmq() if request.param == "rabbitmq" else private_redis()
    with server as started:
        yield started


def started(n: int) -> bytes:
    return event_body("meeting.started", {"id": "1", "uuid": f"out{n}=="}, event_ts=n)


def test_events_arriving_while_the_broker_is_down_are_all_processed(
    postgres_url: str,
    database: Engine,
    broker: PrivateServer,
    queue_prefix: str,
    fake: RunningFake,
    tmp_path: Path,
) -> None:
    env = environment(
        postgres_url,
        broker.url,
        queue_prefix,
        fake,
        # Rows whose enqueue failed are enqueued again this long after (seconds).
        ZOOMHOOKS_SWEEP_AFTER_SECONDS="3",
    )
    with running_cluster(tmp_path, env) as cluster:
        web = cluster.start(workers=2)
        before = [started(n) for n in range(20)]
        assert cluster.post_all(before) == [200] * 20
        wait_until(lambda: all_processed(database, 20, 0), timeout=60, interval=0.2)

        broker.stop()
        during: list[int] = []
        readiness: list[str] = []
        n = 20
        until = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < until:
            second = time.monotonic()
            during += cluster.post_all([started(n + i) for i in range(RATE)], threads=RATE)
            n += RATE
            readiness.append(httpx.get(web.ops_url + "/readyz", timeout=3).json()["status"])
            time.sleep(max(0.0, 1.0 - (time.monotonic() - second)))
        # Every delivery was acknowledged while the broker was away, and nothing processed it.
        assert during == [200] * len(during)
        assert set(readiness) == {"degraded"}
        assert inbox_statuses(database).get("received", 0) == len(during)

        broker.start()
        wait_until(lambda: all_processed(database, 20 + len(during), 0), timeout=120, interval=0.5)
        assert httpx.get(web.ops_url + "/readyz", timeout=3).json()["status"] == "ready"
