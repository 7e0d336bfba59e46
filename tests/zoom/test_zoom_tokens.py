"""The token store's compare-and-set semantics and the lease dance, without HTTP."""

from __future__ import annotations

import threading
import time

import pytest

from service.zoom.auth import TokenManager
from service.zoom.errors import Outcome
from service.zoom.exceptions import TokenUnavailable
from service.zoom.tokens import MemoryTokenStore, StoredToken, TokenStore, token_key
from service.zoom.transport import Transport

KEY = "k"


def test_memory_store_is_a_token_store() -> None:
    assert isinstance(MemoryTokenStore(), TokenStore)


def test_lease_is_exclusive_until_it_ends() -> None:
    store = MemoryTokenStore()
    assert store.acquire_lease(KEY, "a", now=100, until=110)
    assert not store.acquire_lease(KEY, "b", now=105, until=115)
    assert store.acquire_lease(KEY, "a", now=105, until=120)  # the holder may extend
    assert not store.acquire_lease(KEY, "b", now=119, until=130)
    assert store.acquire_lease(KEY, "b", now=120, until=130)  # ended: taken over


def test_save_only_by_the_holder_and_it_releases() -> None:
    store = MemoryTokenStore()
    token = StoredToken("tok", expires_at=1000)
    assert not store.save(KEY, "a", token)
    assert store.load(KEY) is None
    store.acquire_lease(KEY, "a", now=0, until=10)
    assert not store.save(KEY, "b", token)
    assert store.save(KEY, "a", token)
    assert store.load(KEY) == token
    assert store.acquire_lease(KEY, "b", now=1, until=10)  # released by the save


def test_a_taken_over_holder_cannot_overwrite() -> None:
    store = MemoryTokenStore()
    store.acquire_lease(KEY, "a", now=0, until=10)
    store.acquire_lease(KEY, "b", now=10, until=20)
    assert store.save(KEY, "b", StoredToken("new", 5000))
    assert not store.save(KEY, "a", StoredToken("old", 4000))
    assert store.load(KEY) == StoredToken("new", 5000)


def test_release_only_by_the_holder() -> None:
    store = MemoryTokenStore()
    store.acquire_lease(KEY, "a", now=0, until=10)
    store.release_lease(KEY, "b")
    assert not store.acquire_lease(KEY, "b", now=1, until=10)
    store.release_lease(KEY, "a")
    assert store.acquire_lease(KEY, "b", now=1, until=10)
    store.release_lease("unknown", "a")


def test_tokens_never_show_in_reprs() -> None:
    assert "s3cr3t" not in repr(StoredToken("s3cr3t", 1.0))
    assert StoredToken("x", 100).fresh(now=39, margin_seconds=60)
    assert not StoredToken("x", 100).fresh(now=40, margin_seconds=60)


def test_token_key_is_stable_and_opaque() -> None:
    key = token_key("account-1", "client-1")
    assert key == token_key("account-1", "client-1") != token_key("account-2", "client-1")
    assert "account-1" not in key and "client-1" not in key


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class CountingManager(TokenManager):
    """Replaces the OAuth call by a counter: what is under test is the sharing."""

    issued = 0
    lock = threading.Lock()

    def __init__(self, store: TokenStore, *, delay: float = 0.0, **kwargs: object) -> None:
        super().__init__(
            account_id="acct",
            client_id="cid",
            client_secret="very-secret",
            transport=Transport(),
            store=store,
            **kwargs,  # type: ignore[arg-type]
        )
        self.delay = delay
        self.fail = False

    def _fetch(self) -> StoredToken:
        time.sleep(self.delay)
        if self.fail:
            raise TokenUnavailable(Outcome.TRANSIENT, "down", endpoint="oauth_token")
        with CountingManager.lock:
            CountingManager.issued += 1
            number = CountingManager.issued
        return StoredToken(f"token-{number}", expires_at=self._clock() + 3600)


@pytest.fixture(autouse=True)
def _reset_counter() -> None:
    CountingManager.issued = 0


def test_many_workers_starting_together_fetch_one_token() -> None:
    store = MemoryTokenStore()
    managers = [CountingManager(store, delay=0.05, lease_poll=0.005) for _ in range(16)]
    barrier = threading.Barrier(len(managers))
    got: list[str] = []

    def work(manager: CountingManager) -> None:
        barrier.wait()
        got.append(manager.token())

    threads = [threading.Thread(target=work, args=(m,)) for m in managers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert CountingManager.issued == 1
    assert got == ["token-1"] * len(managers)


def test_the_token_is_cached_and_renewed_before_expiry() -> None:
    clock = Clock()
    manager = CountingManager(MemoryTokenStore(), clock=clock, sleep=clock.sleep)
    assert manager.token() == "token-1"
    clock.now += 3600 - manager.renew_margin - 1
    assert manager.token() == "token-1"
    clock.now += 2
    assert manager.token() == "token-2"


def test_a_rejected_token_is_replaced_once_for_everyone() -> None:
    store = MemoryTokenStore()
    first, second = CountingManager(store), CountingManager(store)
    assert first.token() == second.token() == "token-1"
    assert first.token(rejected="token-1") == "token-2"
    # The other worker was refused the same token: it picks up the replacement, no new fetch.
    assert second.token(rejected="token-1") == "token-2"
    assert CountingManager.issued == 2


def test_a_failed_fetch_releases_the_lease() -> None:
    store = MemoryTokenStore()
    failing, healthy = CountingManager(store), CountingManager(store)
    failing.fail = True
    with pytest.raises(TokenUnavailable):
        failing.token()
    assert healthy.token() == "token-1"


def test_a_stuck_lease_gives_up_after_the_wait() -> None:
    clock = Clock()
    store = MemoryTokenStore()
    manager = CountingManager(store, clock=clock, sleep=clock.sleep)
    store.acquire_lease(manager.key, "someone-else", now=clock.now, until=clock.now + 10_000)
    with pytest.raises(TokenUnavailable) as caught:
        manager.token()
    assert caught.value.outcome is Outcome.TRANSIENT
    assert CountingManager.issued == 0


def test_a_crashed_holder_is_taken_over_when_its_lease_ends() -> None:
    clock = Clock()
    store = MemoryTokenStore()
    manager = CountingManager(store, clock=clock, sleep=clock.sleep)
    store.acquire_lease(manager.key, "crashed", now=clock.now, until=clock.now + 30)
    assert manager.token() == "token-1"
    assert clock.now >= 1_000_030


def test_manager_repr_and_errors_hide_the_secret() -> None:
    manager = CountingManager(MemoryTokenStore())
    assert "very-secret" not in repr(manager)
    with pytest.raises(ValueError, match="required") as caught:
        TokenManager(
            account_id="a",
            client_id="c",
            client_secret="",
            transport=Transport(),
            store=MemoryTokenStore(),
        )
    assert "very-secret" not in str(caught.value)
