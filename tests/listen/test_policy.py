"""The listener's pure timing: reconnect backoff, token rotation, the reconciled window."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from service.listen.policy import Timing, Window, gap_window, rotation_at

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_reconnects_go_at_once_then_back_off_with_jitter_up_to_the_cap() -> None:
    timing = Timing(reconnect_base=1.0, reconnect_cap=8.0)
    rng = random.Random(7)
    assert timing.reconnect_delay(0, rng) == 0.0
    for failures, step in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0), (200, 8.0)]:
        delays = {timing.reconnect_delay(failures, rng) for _ in range(50)}
        assert all(step / 2 <= d <= step for d in delays), failures
        assert len(delays) > 1  # jittered: listeners that failed together spread out


@pytest.mark.parametrize(
    "kwargs",
    [
        {"heartbeat_interval": 0},
        {"heartbeat_timeout": -1},
        {"max_gap": 0},
        {"reconnect_base": 5.0, "reconnect_cap": 1.0},
        {"reconnect_base": -1.0},
    ],
)
def test_nonsense_timing_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        Timing(**kwargs)


def test_a_socket_is_rotated_as_its_token_is_renewed() -> None:
    assert rotation_at(expires_at=10_000.0, renew_margin=300.0) == 9_700.0


def test_the_window_runs_from_the_last_alive_moment_to_the_reconnect() -> None:
    end = T0 + timedelta(minutes=3)
    assert gap_window(T0, end, max_gap=3600) == Window(T0, end, clipped=False)


def test_a_window_longer_than_the_bound_is_clipped_to_its_newest_part() -> None:
    end = T0 + timedelta(days=30)
    assert gap_window(T0, end, max_gap=86400) == Window(end - timedelta(days=1), end, True)


def test_clock_skew_never_makes_a_window_run_backwards() -> None:
    # The last holder's clock ran ahead of ours: the window is empty, not negative.
    window = gap_window(T0 + timedelta(seconds=5), T0, max_gap=60)
    assert window.start == window.end == T0
