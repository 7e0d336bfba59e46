"""The database token store: one lease at a time, compare-and-set saves, on both databases."""

from __future__ import annotations

import threading

import pytest

from service.storage import db, migrate
from service.storage.tokens import DatabaseTokenStore
from service.zoom.tokens import StoredToken, TokenStore


@pytest.fixture
def store(database_url: str) -> DatabaseTokenStore:
    engine = db.create(database_url)
    migrate.upgrade(engine)
    return DatabaseTokenStore(engine)


def test_it_is_a_token_store(store: DatabaseTokenStore) -> None:
    assert isinstance(store, TokenStore)
    assert "secret" not in repr(store)


def test_lease_save_load(store: DatabaseTokenStore) -> None:
    assert store.load("k") is None
    assert store.acquire_lease("k", "w1", now=100, until=130)
    assert not store.acquire_lease("k", "w2", now=110, until=140)
    assert store.acquire_lease("k", "w1", now=111, until=141)  # the holder may extend
    assert not store.save("k", "w2", StoredToken("nope", 9999))
    assert store.save("k", "w1", StoredToken("tok-1", 4600))
    assert store.load("k") == StoredToken("tok-1", 4600)
    assert store.acquire_lease("k", "w2", now=120, until=150)  # released by the save


def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_save(
    store: DatabaseTokenStore,
) -> None:
    assert store.acquire_lease("k", "w1", now=100, until=130)
    assert store.acquire_lease("k", "w2", now=130, until=160)
    assert not store.save("k", "w1", StoredToken("stale", 1))
    store.release_lease("k", "w1")  # no-op: w1 lost it
    assert not store.acquire_lease("k", "w3", now=140, until=170)
    store.release_lease("k", "w2")
    assert store.acquire_lease("k", "w3", now=140, until=170)


def test_concurrent_workers_get_one_lease(store: DatabaseTokenStore) -> None:
    winners: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def contend(name: str) -> None:
        barrier.wait()
        if store.acquire_lease("k", name, now=100, until=130):
            with lock:
                winners.append(name)

    threads = [threading.Thread(target=contend, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
