"""Every state store makes `update` atomic: threads racing on one key lose no change."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from service.governor import MemoryStateStore, StateStore
from service.governor.pace import State
from service.governor.redis import RedisStateStore
from service.storage import db, migrate
from service.storage.ratestate import DatabaseStateStore


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
    elif request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        redis_store = RedisStateStore.from_url(
            url, namespace=request.getfixturevalue("queue_prefix")
        )
        yield redis_store
        redis_store.close()
    else:
        fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
        engine = db.create(request.getfixturevalue(fixture))
        migrate.upgrade(engine)
        yield DatabaseStateStore(engine)
        engine.dispose()


def increment(state: State | None) -> tuple[dict[str, float], int]:
    calls = int((state or {}).get("calls", 0)) + 1
    return {"calls": float(calls)}, calls


def test_a_missing_record_reads_as_none(store: StateStore) -> None:
    seen: list[State | None] = []

    def look(state: State | None) -> tuple[dict[str, float], None]:
        seen.append(state)
        return {"x": 1.5}, None

    key = f"k-{uuid.uuid4().hex}"
    store.update(key, look)
    store.update(key, look)
    assert seen == [None, {"x": 1.5}]


def test_concurrent_updates_lose_nothing(store: StateStore) -> None:
    key = f"k-{uuid.uuid4().hex}"
    results: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(25):
            value = store.update(key, increment)
            with lock:
                results.append(value)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # Each update saw the one before it: every count handed out once, none skipped.
    assert sorted(results) == list(range(1, 101))


def test_an_expired_record_starts_afresh() -> None:
    now = [1000.0]
    store = MemoryStateStore(clock=lambda: now[0])
    store.update("k", increment, ttl=10)
    now[0] += 11
    assert store.update("k", increment, ttl=10) == 1
