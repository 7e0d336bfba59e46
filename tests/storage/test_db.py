"""Engines: PostgreSQL pools as many connections as the settings ask; SQLite keeps one."""

from __future__ import annotations

from sqlalchemy.pool import QueuePool

from service.storage import db
from tests.conftest import MakeRuntime


def test_a_runtime_pools_a_connection_per_worker_thread_and_its_headroom(
    make_runtime: MakeRuntime, postgres_url: str
) -> None:
    runtime = make_runtime(database_url=postgres_url, worker_threads=24)
    pool = runtime.engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.size() == runtime.settings.pool_size == 28
    assert pool._max_overflow == 28  # bursts may open as many again
    pinned = make_runtime(database_url=postgres_url, worker_threads=24, db_pool_size=6)
    assert pinned.engine.pool.size() == 6  # type: ignore[attr-defined]


def test_sqlite_keeps_one_connection_whatever_the_pool_size(sqlite_url: str) -> None:
    engine = db.create(sqlite_url, pool_size=50)
    try:
        assert engine.pool.size() == 1  # type: ignore[attr-defined]
    finally:
        engine.dispose()
