"""The governor's arithmetic: spacing calls (GCRA), slowing down after a 429, daily counts.

Each function takes a state and returns the next one; no I/O and no clock of its own, so the
stores can run them inside whatever makes a read-modify-write atomic (a lock, a row lock, a
Redis WATCH) and the tests can run them on made-up times.

Spacing is the Generic Cell Rate Algorithm with no burst: `tat` is the earliest moment the next
call may go. A caller takes the slot at max(tat, now) and pushes `tat` one interval further, so
N workers sharing the state interleave at the budget's pace, each knowing exactly how long to
wait, and no window of an interval's length ever holds two calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: After a 429, calls of that account and category are spaced wider for this long (seconds).
DEFAULT_SLOW_HOLD = 30.0
#: A 429 while already slowed doubles the slowdown, up to this factor.
DEFAULT_MAX_SLOW_FACTOR = 4.0

State = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Pace:
    #: Epoch seconds at which the next slot is free.
    tat: float = 0.0
    #: Until when (epoch seconds) calls are spaced `slow_factor` times wider.
    slow_until: float = 0.0
    slow_factor: float = 1.0

    def factor(self, now: float) -> float:
        return self.slow_factor if now < self.slow_until else 1.0

    def to_state(self) -> dict[str, float]:
        return {"tat": self.tat, "slow_until": self.slow_until, "slow_factor": self.slow_factor}

    @classmethod
    def from_state(cls, state: State | None) -> Pace:
        if not state:
            return cls()
        return cls(
            tat=float(state.get("tat", 0.0)),
            slow_until=float(state.get("slow_until", 0.0)),
            slow_factor=max(1.0, float(state.get("slow_factor", 1.0))),
        )


@dataclass(frozen=True, slots=True)
class Slot:
    """The answer to a reservation: `taken`, after waiting `wait` seconds; or not taken, since
    the wait would have been longer than the caller allowed."""

    taken: bool
    wait: float
    #: The spacing applied (seconds), the slowdown included.
    interval: float
    #: Epoch seconds at which the call may go: `now + wait`. Callers wait for this moment,
    #: not for `wait` from whenever the store answered, so its latency adds no jitter.
    at: float = 0.0


def reserve(pace: Pace, *, now: float, interval: float, max_wait: float) -> tuple[Pace, Slot]:
    """Take the next slot unless it lies more than `max_wait` seconds away."""
    step = interval * pace.factor(now)
    start = max(pace.tat, now)
    wait = start - now
    if wait > max_wait:
        return pace, Slot(taken=False, wait=wait, interval=step, at=start)
    return (
        Pace(tat=start + step, slow_until=pace.slow_until, slow_factor=pace.slow_factor),
        Slot(taken=True, wait=wait, interval=step, at=start),
    )


def slow_down(
    pace: Pace,
    *,
    now: float,
    retry_after: float,
    hold: float = DEFAULT_SLOW_HOLD,
    max_factor: float = DEFAULT_MAX_SLOW_FACTOR,
) -> Pace:
    """Zoom answered 429: nobody calls before `retry_after`, and calls go at half the pace for
    `hold` seconds after that. A 429 once the slower pace is in force halves it again; one that
    arrives before then answers a call made at the old pace, and does not."""
    slowed = now < pace.slow_until
    in_force = slowed and now >= pace.slow_until - hold
    factor = (
        min(pace.slow_factor * 2, max_factor) if in_force else pace.slow_factor if slowed else 2.0
    )
    resume = now + max(0.0, retry_after)
    return Pace(tat=max(pace.tat, resume), slow_until=resume + hold, slow_factor=factor)


@dataclass(frozen=True, slots=True)
class DayCount:
    #: The UTC day as an ordinal (`date.toordinal()`).
    day: int = 0
    calls: int = 0

    def to_state(self) -> dict[str, float]:
        return {"day": float(self.day), "calls": float(self.calls)}

    @classmethod
    def from_state(cls, state: State | None) -> DayCount:
        if not state:
            return cls()
        return cls(day=int(state.get("day", 0)), calls=int(state.get("calls", 0)))


def take_daily(count: DayCount, *, day: int, cap: int) -> tuple[DayCount, bool]:
    """Count one call against today's cap; False (nothing counted) once the cap is spent."""
    calls = count.calls if count.day == day else 0
    if calls >= cap:
        return DayCount(day, calls), False
    return DayCount(day, calls + 1), True


def spend_daily(count: DayCount, *, day: int, cap: int) -> DayCount:
    """Zoom says the daily cap is spent, whatever we counted: nothing more today."""
    return DayCount(day, max(cap, count.calls if count.day == day else 0))
