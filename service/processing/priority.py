"""Deliveries first: in one process, background work yields to the requests Zoom waits on.

In the embedded default the web endpoint and the workers share one process (one GIL) and one
SQLite writer. Zoom gives a delivery 3 s; a follow-up or a processed event can wait a moment.
So while deliveries are in flight, a worker about to start its next unit of work waits (for a
bounded time, so background work always progresses). With a real broker, web and workers are
separate processes and this is not wired in.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from service import metrics

#: Longest a worker defers to deliveries before it goes ahead anyway (seconds).
DEFAULT_MAX_DEFER = 0.5


class DeliveriesFirst:
    def __init__(self, *, max_defer: float = DEFAULT_MAX_DEFER) -> None:
        self.max_defer = max_defer
        self._in_flight = 0
        self._quiet = threading.Condition()

    @contextmanager
    def delivery(self) -> Iterator[None]:
        """Mark a delivery in flight for the duration of the block."""
        with self._quiet:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._quiet:
                self._in_flight -= 1
                if not self._in_flight:
                    self._quiet.notify_all()

    def defer(self) -> bool:
        """Wait until no delivery is in flight, at most `max_defer`; True if it got quiet."""
        with self._quiet:
            if self._in_flight:
                metrics.DEFERRALS.inc()
            return self._quiet.wait_for(lambda: not self._in_flight, self.max_defer)

    @property
    def in_flight(self) -> int:
        return self._in_flight


class NoPriority(DeliveriesFirst):
    """For separate web and worker processes: nothing to yield to."""

    def defer(self) -> bool:
        return True
