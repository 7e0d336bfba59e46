"""The subscription lease: one listener holds a subscription, another takes over once it
expires or is released, and a listener that lost it cannot renew it. Both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from service.storage import db, migrate
from service.storage.gaps import Gaps
from service.storage.subscriptions import SubscriptionLeases

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def leases(url: str) -> SubscriptionLeases:
    engine = db.create(url)
    migrate.upgrade(engine)
    return SubscriptionLeases(engine, lease=LEASE)


def test_one_holder_at_a_time_and_a_takeover_after_expiry(database_url: str) -> None:
    store = leases(database_url)
    first = store.acquire("sub", "app", "listener-a", now=T0)
    assert first is not None and first.until == T0 + LEASE and first.alive_at is None
    # A second listener stays idle while the lease runs.
    assert store.acquire("sub", "app", "listener-b", now=T0 + timedelta(seconds=29)) is None
    # The holder renews it and records its socket's state.
    alive = T0 + timedelta(seconds=9)
    until = store.renew("sub", "listener-a", connected_at=T0, alive_at=alive, now=alive)
    assert until == alive + LEASE
    assert store.acquire("sub", "app", "listener-b", now=T0 + timedelta(seconds=31)) is None
    holder = store.holder("sub")
    assert holder is not None
    assert (holder.owner, holder.connected_at, holder.alive_at) == ("listener-a", T0, alive)
    # It stops renewing (killed): once the lease ran out, b takes over and learns since when
    # nobody has listened.
    taken = store.acquire("sub", "app", "listener-b", now=alive + LEASE + timedelta(seconds=1))
    assert taken is not None and taken.alive_at == alive
    # The old holder's renewal matches nothing: it must stop listening.
    assert store.renew("sub", "listener-a", connected_at=T0, alive_at=None, now=alive) is None
    after = store.holder("sub")
    assert after is not None and after.owner == "listener-b" and after.connected_at is None


def test_a_release_hands_over_at_once_with_the_last_alive_moment(database_url: str) -> None:
    store = leases(database_url)
    assert store.acquire("sub", "app", "a", now=T0) is not None
    store.release("sub", "a", alive_at=T0 + timedelta(seconds=5))
    taken = store.acquire("sub", "app", "b", now=T0 + timedelta(seconds=6))
    assert taken is not None and taken.alive_at == T0 + timedelta(seconds=5)
    # Releasing what another holds changes nothing.
    store.release("sub", "a", alive_at=None)
    assert store.acquire("sub", "app", "c", now=T0 + timedelta(seconds=7)) is None


def test_subscriptions_are_held_apart(database_url: str) -> None:
    store = leases(database_url)
    assert store.acquire("one", "app1", "a", now=T0) is not None
    assert store.acquire("two", "app2", "b", now=T0) is not None
    assert store.holder("missing") is None


def test_concurrent_listeners_take_a_subscription_once(postgres_url: str) -> None:
    store = leases(postgres_url)
    barrier = threading.Barrier(4)
    winners: list[str] = []

    def contend(owner: str) -> None:
        barrier.wait()
        if store.acquire("sub", "app", owner) is not None:
            winners.append(owner)

    threads = [threading.Thread(target=contend, args=(f"l{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_gaps_wait_until_due_and_are_reconciled_or_retried(database_url: str) -> None:
    engine = db.create(database_url)
    migrate.upgrade(engine)
    gaps = Gaps(engine)
    first = gaps.record(
        subscription_id="sub",
        app="app",
        account_id="acct",
        gap_from=T0,
        gap_to=T0 + timedelta(minutes=3),
        due_at=T0 + timedelta(minutes=8),
    )
    gaps.record(
        subscription_id="other",
        app="app2",
        account_id=None,
        gap_from=T0,
        gap_to=T0,
        due_at=T0,
    )
    assert gaps.due(["sub"], now=T0) == []
    (due,) = gaps.due(["sub"], now=T0 + timedelta(minutes=8))
    assert (due.id, due.gap_from, due.gap_to, due.attempts) == (
        first,
        T0,
        T0 + timedelta(minutes=3),
        0,
    )
    gaps.retry(first, "Zoom said no", at=T0 + timedelta(minutes=20), backfilled=1)
    assert gaps.due(["sub"], now=T0 + timedelta(minutes=19)) == []
    (again,) = gaps.due(["sub"], now=T0 + timedelta(minutes=20))
    assert again.attempts == 1
    gaps.done(first, backfilled=2)
    assert gaps.due(["sub", "other"], now=T0 + timedelta(days=1))[0].subscription_id == "other"
