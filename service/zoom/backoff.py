"""Delays between attempts: in-request retries, and re-fetches of data Zoom has not finished."""

from __future__ import annotations

import random
from dataclasses import dataclass

#: Retries after the first attempt on a transport error or a 5xx, within one request.
DEFAULT_MAX_RETRIES = 4
#: First retry delay before jitter (seconds); it doubles on every further retry.
DEFAULT_BACKOFF_BASE = 0.5
#: Longest single retry delay before jitter (seconds).
DEFAULT_BACKOFF_CAP = 8.0

#: First re-fetch delay after Zoom answered "not ready" (3001/404 shortly after `ended`) (seconds).
#: Zoom usually needs a few minutes after the `ended` event before past_* endpoints answer.
DEFAULT_NOT_READY_BASE = 60.0
#: Longest re-fetch delay for "not ready" (seconds).
DEFAULT_NOT_READY_CAP = 30 * 60.0
#: Re-fetches for "not ready" before the ID is taken as wrong (attempts); about 3 hours in all.
DEFAULT_NOT_READY_MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for transport errors and 5xx responses."""

    max_retries: int = DEFAULT_MAX_RETRIES
    base_seconds: float = DEFAULT_BACKOFF_BASE
    cap_seconds: float = DEFAULT_BACKOFF_CAP

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries cannot be negative")
        if self.base_seconds < 0 or self.cap_seconds < 0:
            raise ValueError("backoff delays cannot be negative")

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Delay before retry number `retry` (1-based)."""
        return backoff_delay(retry, self.base_seconds, self.cap_seconds, rng)


def backoff_delay(
    retry: int, base_seconds: float, cap_seconds: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random.

    The fixed half keeps the delays growing; the random half spreads workers that failed
    together so they do not retry in lockstep.
    """
    if retry < 1:
        raise ValueError("retry numbers start at 1")
    step = min(cap_seconds, base_seconds * (1 << min(retry - 1, 62)))
    draw = (rng or random).random()
    return step / 2 + draw * step / 2


def not_ready_delay(
    attempt: int,
    *,
    base_seconds: float = DEFAULT_NOT_READY_BASE,
    cap_seconds: float = DEFAULT_NOT_READY_CAP,
    max_attempts: int = DEFAULT_NOT_READY_MAX_ATTEMPTS,
) -> float | None:
    """Delay before re-fetch number `attempt` (1-based) of data Zoom said is not ready yet.

    Returns None once `max_attempts` re-fetches were spent: the caller then treats the
    meeting/webinar as unknown (a wrong ID, or one from another account). No jitter: the
    caller's queue spreads the work.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    if attempt > max_attempts:
        return None
    return min(cap_seconds, base_seconds * (1 << min(attempt - 1, 62)))
