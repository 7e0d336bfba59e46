"""PostgreSQL stops under a running deployment: the endpoint answers 503 (so Zoom retries
later) instead of acknowledging what it cannot store, nothing is half-written, and once the
database is back Zoom's retries are stored and processed exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from service.devtools.fakezoom import RunningFake
from service.storage.models import instances, webhook_events
from tests.private_servers import PrivatePostgres, private_postgres
from tests.support import event_body, wait_until
from tests.topology.cluster import all_processed, environment, running_cluster

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(300)]


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


def started(n: int) -> bytes:
    return event_body("meeting.started", {"id": str(n), "uuid": f"db{n}=="}, event_ts=n)


def test_the_endpoint_answers_503_while_the_database_is_down(
    postgres: PrivatePostgres,
    redis_url: str,
    queue_prefix: str,
    fake: RunningFake,
    tmp_path: Path,
) -> None:
    env = environment(postgres.url, redis_url, queue_prefix, fake)
    with running_cluster(tmp_path, env) as cluster:
        web = cluster.start(workers=1)
        first = [started(n) for n in range(20)]
        assert cluster.post_all(first) == [200] * 20
        tables = create_engine(postgres.url)
        wait_until(lambda: all_processed(tables, 20, 0), timeout=60, interval=0.2)
        tables.dispose()

        postgres.stop()
        retried = [started(n) for n in range(20, 40)]
        # Zoom would retry each of these: none was acknowledged, so none is lost.
        assert cluster.post_all(retried) == [503] * 20
        ready = httpx.get(web.ops_url + "/readyz", timeout=5)
        assert ready.status_code == 503 and ready.json()["checks"]["database"] != "ok"

        postgres.start()
        assert cluster.post_all(retried) == [200] * 20
        tables = create_engine(postgres.url)
        wait_until(lambda: all_processed(tables, 40, 0), timeout=60, interval=0.2)
        with tables.connect() as conn:
            assert conn.execute(select(func.count()).select_from(webhook_events)).scalar() == 40
            # Each event did all it does: one instance row per meeting.started.
            assert conn.execute(select(func.count()).select_from(instances)).scalar() == 40
        tables.dispose()
        assert httpx.get(web.ops_url + "/readyz", timeout=5).status_code == 200
