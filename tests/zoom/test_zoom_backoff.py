from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.zoom.backoff import (
    DEFAULT_NOT_READY_CAP,
    DEFAULT_NOT_READY_MAX_ATTEMPTS,
    RetryPolicy,
    backoff_delay,
    not_ready_delay,
)


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=2**32))
def test_backoff_stays_within_half_and_full_step(retry: int, seed: int) -> None:
    delay = backoff_delay(retry, 0.5, 8.0, random.Random(seed))
    step = min(8.0, 0.5 * 2 ** min(retry - 1, 62))
    assert step / 2 <= delay <= step


def test_backoff_grows_then_caps() -> None:
    class Fixed(random.Random):
        def random(self) -> float:
            return 1.0

    delays = [backoff_delay(n, 0.5, 8.0, Fixed()) for n in range(1, 8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_jitter_spreads_workers() -> None:
    rng = random.Random(1)
    assert len({backoff_delay(3, 0.5, 8.0, rng) for _ in range(20)}) > 10


def test_retry_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        backoff_delay(0, 1.0, 1.0)


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(base_seconds=-1)


def test_not_ready_delays_grow_cap_and_stop() -> None:
    delays = [not_ready_delay(n) for n in range(1, DEFAULT_NOT_READY_MAX_ATTEMPTS + 2)]
    assert delays[:6] == [60.0, 120.0, 240.0, 480.0, 960.0, DEFAULT_NOT_READY_CAP]
    assert all(d == DEFAULT_NOT_READY_CAP for d in delays[5:-1])
    assert delays[-1] is None


def test_not_ready_delay_is_configurable() -> None:
    assert not_ready_delay(3, base_seconds=1, cap_seconds=3, max_attempts=3) == 3
    assert not_ready_delay(4, base_seconds=1, cap_seconds=3, max_attempts=3) is None
    with pytest.raises(ValueError, match="start at 1"):
        not_ready_delay(0)
