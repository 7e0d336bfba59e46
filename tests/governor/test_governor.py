"""The governor on a fake clock: slots, sleeps, deferrals, daily caps and 429 slowdowns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service import metrics
from service.governor import Governor, MemoryStateStore, Plan, budget
from service.governor.store import DEFAULT_STATE_TTL, Change, T
from service.zoom import Outcome, RateLimitCategory, Throttled, ZoomAPIError


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


NOON = datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp()


def governor(clock: Clock, **kw: object) -> Governor:
    return Governor(
        MemoryStateStore(clock=clock),
        {"big": budget(Plan.BUSINESS, 1.0, margin=1.0)},
        default=budget(Plan.PRO, 0.5, margin=1.0),
        clock=clock,
        sleep=clock.sleep,
        **kw,  # type: ignore[arg-type]
    )


def test_calls_sleep_for_their_slot_at_the_budgets_pace() -> None:
    clock = Clock(NOON)
    gov = governor(clock)
    for _ in range(5):
        gov.acquire("acct", "Medium")  # Pro at 50 %: 10/s
    assert clock.slept == pytest.approx([0.1, 0.1, 0.1, 0.1])


class SlowStore(MemoryStateStore):
    """A store whose answers take time (a commit, a round trip): `latencies` per update."""

    def __init__(self, clock: Clock, latencies: list[float]) -> None:
        super().__init__(clock=clock)
        self.fake_clock = clock
        self.latencies = latencies
        self.keys: list[str] = []

    def update(self, key: str, change: Change[T], *, ttl: float = DEFAULT_STATE_TTL) -> T:
        result = super().update(key, change, ttl=ttl)
        self.keys.append(key)
        self.fake_clock.now += self.latencies.pop(0) if self.latencies else 0.0
        return result


def test_a_call_goes_at_its_slot_however_long_the_store_took_to_answer() -> None:
    # The store answers the second reservation 90 ms late. Sleeping the slot's wait from then
    # would send that call at 0.19 s and the next at 0.2 s: two calls 10 ms apart on a 10/s
    # budget. Waiting for the slot's moment sends every call on its slot.
    clock = Clock(NOON)
    gov = Governor(
        SlowStore(clock, [0.0, 0.09, 0.0, 0.0]),
        {},
        default=budget(Plan.PRO, 0.5, margin=1.0),
        clock=clock,
        sleep=clock.sleep,
    )
    sent = []
    for _ in range(4):
        gov.acquire("acct", "Medium")
        sent.append(clock.now - NOON)
    assert sent == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_the_daily_count_is_taken_before_the_sleep_not_between_it_and_the_call() -> None:
    clock = Clock(NOON)
    store = SlowStore(clock, [0.0, 0.0, 0.0, 0.15])  # the second daily update is slow
    gov = Governor(
        store,
        {},
        default=budget(Plan.PRO, 0.5, margin=1.0),  # Heavy 5/s
        clock=clock,
        sleep=clock.sleep,
    )
    gov.acquire("acct", "Heavy")
    gov.acquire("acct", "Heavy")
    assert clock.now - NOON == pytest.approx(0.2)  # on its slot, the slow count included
    assert store.keys == [
        "pace:acct:Heavy",
        "daily:acct:Heavy+Resource-intensive",
        "pace:acct:Heavy",
        "daily:acct:Heavy+Resource-intensive",
    ]


def test_each_account_and_category_has_its_own_pace() -> None:
    clock = Clock(NOON)
    gov = governor(clock)
    gov.acquire("acct", "Medium")
    gov.acquire("other", "Medium")
    gov.acquire("acct", "Light")
    gov.acquire("big", "Medium")
    assert clock.slept == []
    assert gov.budget("big").rates[RateLimitCategory.MEDIUM] == 60


def test_a_slot_further_than_max_sleep_defers_the_job() -> None:
    clock = Clock(NOON)
    gov = governor(clock, max_sleep=0.25)
    gov._sleep = lambda _seconds: None  # four callers at the same moment, as from four threads
    for _ in range(3):
        gov.acquire("acct", "Medium")
    before = metrics.GOVERNOR_DEFERRED.labels("acct", "Medium", "pace")._value.get()
    with pytest.raises(Throttled) as caught:
        gov.acquire("acct", "Medium")
    assert caught.value.retry_after_seconds == pytest.approx(0.3)
    assert not caught.value.daily and caught.value.status is None
    assert metrics.GOVERNOR_DEFERRED.labels("acct", "Medium", "pace")._value.get() == before + 1


def test_the_daily_budget_parks_until_midnight() -> None:
    clock = Clock(NOON)
    gov = Governor(
        MemoryStateStore(clock=clock),
        {},
        default=budget(Plan.PRO, 1.0, daily_cap=3),
        clock=clock,
        sleep=clock.sleep,
    )
    for category in ("Heavy", "Resource-intensive", "Heavy"):
        gov.acquire("acct", category)
    with pytest.raises(Throttled) as caught:
        gov.acquire("acct", "Heavy")
    assert caught.value.daily
    assert caught.value.retry_after_seconds == pytest.approx(12 * 3600 + 60, abs=1)
    gov.acquire("acct", "Medium")  # not capped daily on Pro
    clock.now += 13 * 3600
    gov.acquire("acct", "Heavy")


def test_a_429_holds_everyone_back_then_halves_the_pace() -> None:
    clock = Clock(NOON)
    gov = governor(clock)
    gov.acquire("acct", "Medium")
    gov.rate_limited("acct", "Medium", 2.0, daily=False)
    gov.acquire("acct", "Medium")
    gov.acquire("acct", "Medium")
    assert clock.slept == pytest.approx([2.0, 0.2])
    assert metrics.GOVERNOR_RATE.labels("acct", "Medium")._value.get() == pytest.approx(5.0)


def test_a_daily_429_spends_the_daily_budget() -> None:
    clock = Clock(NOON)
    gov = governor(clock)
    gov.rate_limited("acct", "Heavy", 60.0, daily=True)
    clock.now += 120
    with pytest.raises(Throttled) as caught:
        gov.acquire("acct", "Resource-intensive")
    assert caught.value.daily


def test_unknown_categories_are_not_paced() -> None:
    clock = Clock(NOON)
    gov = governor(clock)
    for _ in range(3):
        gov.acquire("acct", "")
        gov.acquire("acct", "Gigantic")
    assert clock.slept == []


class Broken:
    def update(self, *_args: object, **_kw: object) -> object:
        raise ConnectionError("store down")


def test_a_broken_store_is_a_transient_error_not_an_unpaced_call() -> None:
    gov = Governor(Broken(), {}, default=budget(Plan.PRO))  # type: ignore[arg-type]
    with pytest.raises(ZoomAPIError) as caught:
        gov.acquire("acct", "Medium")
    assert caught.value.outcome is Outcome.TRANSIENT
    gov.rate_limited("acct", "Medium", 1.0, daily=False)  # logged, never raised


def test_a_slot_reached_too_late_is_let_go_for_the_next_one() -> None:
    # The second reservation's store answers at 0.2 s, 100 ms past its slot: going then, the
    # second call would go at the same moment as the third (slot 0.2). It takes slot 0.2
    # instead, and the third the one after.
    clock = Clock(NOON)
    gov = Governor(
        SlowStore(clock, [0.0, 0.2, 0.0, 0.0]),
        {},
        default=budget(Plan.PRO, 0.5, margin=1.0),  # Medium 10/s
        clock=clock,
        sleep=clock.sleep,
    )
    missed = metrics.GOVERNOR_MISSED.labels("acct", "Medium")
    before = missed._value.get()
    sent = []
    for _ in range(3):
        gov.acquire("acct", "Medium")
        sent.append(round(clock.now - NOON, 6))
    assert sent == [0.0, 0.2, 0.3]
    assert missed._value.get() == before + 1


def test_after_three_missed_slots_a_call_goes_late_rather_than_restart_its_job(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock(NOON)
    gov = Governor(
        SlowStore(clock, [0.0] + [0.5] * 4),  # every later reservation answers 500 ms late
        {},
        default=budget(Plan.PRO, 0.5, margin=1.0),
        clock=clock,
        sleep=clock.sleep,
    )
    gov.acquire("acct", "Medium")
    gov.acquire("acct", "Medium")  # no Throttled: a deferred job would fetch its pages again
    assert clock.now - NOON == pytest.approx(2.0)
    assert "4 slots in a row were reached late" in caplog.text
