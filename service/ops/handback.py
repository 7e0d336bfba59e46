"""Handing reset rows back to the workers, and telling the operator how they will be taken.

With a real broker (BROKER_URL set), each row is enqueued at once. With the embedded broker,
the queue lives in the memory of `zoomhooks serve`, another process this command cannot
reach: the rows are left stale (see `queries.reset`), and serve's sweeper enqueues them at its
next round. Either way the rows are stale, so if an enqueue fails, a sweeper still takes them
(and should a sweeper send a second message for a row just enqueued, the worker's claim, a
compare-and-set, absorbs it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from service.config import Settings
from service.ops.formatting import duration, plural
from service.ops.session import scrub
from service.storage.types import utcnow

log = logging.getLogger(__name__)

Send = Callable[[int], None]


class Handback:
    """Collects the ids reset by a command and hands each to the workers."""

    def __init__(self, settings: Settings, send: Send, *, noun: str) -> None:
        self.settings = settings
        self.send = send
        self.noun = noun
        self.reset: list[int] = []
        self.enqueued: list[int] = []
        self.error: str | None = None

    @property
    def embedded(self) -> bool:
        return self.settings.embedded

    def __call__(self, ids: Iterable[int]) -> None:
        for row_id in ids:
            self.reset.append(row_id)
            if self.embedded or self.error is not None:
                continue
            try:
                self.send(row_id)
            except Exception as exc:
                # The rest stay reset and stale: a sweeper takes them.
                self.error = scrub(f"{type(exc).__name__}: {exc}", self.settings)
                log.debug("enqueue of %s %s failed", self.noun, row_id, exc_info=True)
                continue
            self.enqueued.append(row_id)

    @property
    def ok(self) -> bool:
        return self.error is None

    def how(self) -> str:
        """One sentence: how the reset rows reach a worker."""
        n = len(self.reset)
        if self.embedded:
            interval = seconds_text(self.settings.sweep_interval_seconds)
            them = "it" if n == 1 else "them"
            return (
                f"BROKER_URL is not set (embedded broker): this command cannot reach the "
                f"in-memory queue of `zoomhooks serve`, so {plural(n, self.noun)} "
                f"{'is' if n == 1 else 'are'} marked stale instead. serve's sweeper enqueues "
                f"{them} at its next round, within ZOOMHOOKS_SWEEP_INTERVAL_SECONDS ({interval} "
                f"in this environment); if serve is not running, it enqueues {them} when it "
                f"starts."
            )
        if self.error is None:
            return f"Enqueued {plural(len(self.enqueued), self.noun)} on the broker."
        return (
            f"Enqueued only {len(self.enqueued)} of {plural(n, self.noun)}: the broker failed "
            f"({self.error}). The rest are reset and marked stale, so a worker's sweeper "
            f"(or `zoomhooks sweep`) enqueues them."
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "reset": self.reset,
            "mode": "embedded" if self.embedded else "broker",
            "enqueued": self.enqueued,
            "enqueue_error": self.error,
            "note": self.how(),
        }


def seconds_text(seconds: float) -> str:
    """`60 s`, or `5m 00s` for longer."""
    return f"{seconds:g} s" if seconds < 120 else duration(timedelta(seconds=seconds))


def send_now(schedule: Callable[[int, datetime], None]) -> Send:
    """A follow-up scheduler as a `Send`: due at once."""
    return lambda job_id: schedule(job_id, utcnow())


def chunks(ids: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
