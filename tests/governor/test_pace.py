"""The governor's arithmetic, on made-up times."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from service.governor import pace
from service.governor.pace import DayCount, Pace

DEFAULT_CAP = 16.0


def test_an_idle_pace_lets_the_first_call_go_at_once() -> None:
    new, slot = pace.reserve(Pace(), now=100.0, interval=0.25, max_wait=10)
    assert slot.taken and slot.wait == 0
    assert new.tat == 100.25


def test_callers_interleave_one_interval_apart() -> None:
    state = Pace()
    waits = []
    for _ in range(4):
        state, slot = pace.reserve(state, now=100.0, interval=0.25, max_wait=10)
        waits.append(slot.wait)
    assert waits == [0.0, 0.25, 0.5, 0.75]


def test_a_slot_too_far_off_is_not_taken() -> None:
    state = Pace(tat=120.0)
    new, slot = pace.reserve(state, now=100.0, interval=1.0, max_wait=10)
    assert not slot.taken and slot.wait == 20.0
    assert new == state


def test_a_429_holds_calls_back_then_slows_them() -> None:
    slowed = pace.slow_down(Pace(tat=100.0), now=100.0, retry_after=2.0, hold=60)
    assert slowed.tat == 102.0 and slowed.slow_factor == 2.0 and slowed.slow_until == 162.0
    _, slot = pace.reserve(slowed, now=100.0, interval=0.5, max_wait=10)
    assert slot.wait == 2.0 and slot.interval == 1.0
    # A 429 for a call made before the slower pace began does not compound it ...
    early = pace.slow_down(slowed, now=101.0, retry_after=0, hold=60, max_factor=DEFAULT_CAP)
    assert early.slow_factor == 2.0
    # ... one after it began does.
    again = pace.slow_down(slowed, now=103.0, retry_after=0, hold=60, max_factor=DEFAULT_CAP)
    assert again.slow_factor == 4.0
    # Once the hold is over, the pace is back to the budget's.
    _, later = pace.reserve(again, now=500.0, interval=0.5, max_wait=10)
    assert later.interval == 0.5 and later.wait == 0


def test_slowdowns_stop_at_the_cap() -> None:
    state = Pace()
    for second in range(10):
        state = pace.slow_down(state, now=100.0 + second, retry_after=0, max_factor=DEFAULT_CAP)
    assert state.slow_factor == DEFAULT_CAP


def test_the_daily_count_stops_at_the_cap_and_starts_afresh_each_day() -> None:
    count = DayCount()
    for _ in range(3):
        count, ok = pace.take_daily(count, day=10, cap=3)
        assert ok
    count, ok = pace.take_daily(count, day=10, cap=3)
    assert not ok and count.calls == 3
    count, ok = pace.take_daily(count, day=11, cap=3)
    assert ok and count == DayCount(11, 1)


def test_a_daily_429_spends_the_rest_of_the_day() -> None:
    spent = pace.spend_daily(DayCount(10, 5), day=10, cap=100)
    assert pace.take_daily(spent, day=10, cap=100)[1] is False
    assert pace.take_daily(spent, day=11, cap=100)[1] is True


def test_states_survive_their_round_trip() -> None:
    state = Pace(tat=5.5, slow_until=9.0, slow_factor=4.0)
    assert Pace.from_state(state.to_state()) == state
    assert DayCount.from_state(DayCount(3, 7).to_state()) == DayCount(3, 7)
    assert Pace.from_state(None) == Pace() and DayCount.from_state({}) == DayCount()


@given(
    arrivals=st.lists(st.floats(min_value=0, max_value=20), min_size=1, max_size=60),
    interval=st.floats(min_value=0.01, max_value=2.0),
)
def test_no_two_granted_slots_are_closer_than_the_interval(
    arrivals: list[float], interval: float
) -> None:
    state = Pace()
    starts = []
    for now in sorted(arrivals):
        state, slot = pace.reserve(state, now=now, interval=interval, max_wait=1e9)
        assert slot.taken
        starts.append(now + slot.wait)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= interval - 1e-9 for gap in gaps)
