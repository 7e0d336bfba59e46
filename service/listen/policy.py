"""When the listener reconnects, renews its token and what window it reconciles. Pure."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.zoom.backoff import backoff_delay

#: First reconnect delay after a failed attempt, before jitter (seconds). The first attempt
#: after a connection ended goes at once.
DEFAULT_RECONNECT_BASE = 1.0
#: Longest reconnect delay, before jitter (seconds).
DEFAULT_RECONNECT_CAP = 60.0
#: Zoom asks for a heartbeat every 30 s (seconds).
DEFAULT_HEARTBEAT_INTERVAL = 30.0
#: How long a heartbeat's answer may take before the connection counts as dead (seconds).
DEFAULT_HEARTBEAT_TIMEOUT = 10.0
#: Longest window a reconnect reconciles (seconds); see `gap_window`.
DEFAULT_MAX_GAP = 7 * 24 * 60 * 60.0
#: Past instances that started up to this long before a gap are reconciled too: a meeting
#: that began before the socket dropped may have ended while nobody listened.
DEFAULT_GAP_LOOKBACK = timedelta(hours=24)
#: How long after a failed rotation to try again while the old socket still works (seconds).
DEFAULT_ROTATION_RETRY = 5.0


@dataclass(frozen=True, slots=True)
class Timing:
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
    reconnect_base: float = DEFAULT_RECONNECT_BASE
    reconnect_cap: float = DEFAULT_RECONNECT_CAP
    max_gap: float = DEFAULT_MAX_GAP
    rotation_retry: float = DEFAULT_ROTATION_RETRY

    def __post_init__(self) -> None:
        if min(self.heartbeat_interval, self.heartbeat_timeout, self.max_gap) <= 0:
            raise ValueError("heartbeat interval and timeout, and the longest gap, must be > 0")
        if self.reconnect_base < 0 or self.reconnect_cap < self.reconnect_base:
            raise ValueError("reconnect delays must satisfy 0 <= base <= cap")

    def reconnect_delay(self, failures: int, rng: random.Random | None = None) -> float:
        """The wait before the next attempt after `failures` failed ones in a row: none after
        a connection that worked, then jittered exponential backoff up to the cap."""
        if failures <= 0:
            return 0.0
        return backoff_delay(failures, self.reconnect_base, self.reconnect_cap, rng)


def rotation_at(expires_at: float, renew_margin: float) -> float:
    """When to open the next socket with a fresh token (epoch seconds): as the token store
    renews it, `renew_margin` before it expires, so the open socket never outlives it."""
    return expires_at - renew_margin


@dataclass(frozen=True, slots=True)
class Window:
    """A disconnect window to reconcile, and whether it was clipped to the longest allowed."""

    start: datetime
    end: datetime
    clipped: bool


def gap_window(last_alive: datetime, reconnected: datetime, max_gap: float) -> Window:
    """The window nobody listened: from the last moment a socket was known alive to the
    reconnect, at most `max_gap` seconds long (the older part is left to an operator)."""
    longest = timedelta(seconds=max_gap)
    if reconnected - last_alive > longest:
        return Window(reconnected - longest, reconnected, True)
    return Window(min(last_alive, reconnected), reconnected, False)
