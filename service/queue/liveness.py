"""Whether a worker process still does its work: what a liveness probe asks.

A worker is wedged, and only a restart helps, when one of its Dramatiq threads has died, or
when a thread has sat in one message without any sign of progress for `stuck_after`. Progress
is the message starting, and every `beat()` from the thread running it (each Zoom API
request beats). A worker waiting on an absent broker or database is not wedged: its threads
are alive and idle, or fail their messages quickly, so it stays live and a dependency outage
restarts nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq import MessageProxy

#: A thread in one message this long without progress is taken as stuck (seconds). A follow-up
#: beats on every Zoom request, and the rate governor never holds one back for more than 10 s
#: before deferring the job, so a live thread beats far more often than this.
DEFAULT_STUCK_AFTER = 10 * 60


@dataclass(frozen=True, slots=True)
class Busy:
    actor: str
    message_id: str
    #: `clock()` at the message's start or the thread's last beat.
    progress_at: float


class Liveness(dramatiq.Middleware):
    def __init__(
        self,
        *,
        stuck_after: float = DEFAULT_STUCK_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stuck_after = stuck_after
        self.clock = clock
        self._lock = threading.Lock()
        self._busy: dict[int, Busy] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        with self._lock:
            self._busy[threading.get_ident()] = Busy(
                message.actor_name, message.message_id, self.clock()
            )

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        self._idle()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._idle()

    def _idle(self) -> None:
        with self._lock:
            self._busy.pop(threading.get_ident(), None)

    def beat(self) -> None:
        """The calling thread made progress on its message (a no-op outside a message)."""
        ident = threading.get_ident()
        with self._lock:
            busy = self._busy.get(ident)
            if busy is not None:
                self._busy[ident] = Busy(busy.actor, busy.message_id, self.clock())

    def problems(self, worker: dramatiq.Worker | None, *more: dramatiq.Worker) -> list[str]:
        """Why these workers are wedged; empty while they are live. `worker` None: not
        started. `more`: other workers of this process (the recording downloads')."""
        found = []
        workers = [w for w in (worker, *more) if w is not None]
        if workers:
            threads = [t for w in workers for t in (*w.consumers.values(), *w.workers)]
            dead = [t.name for t in threads if not t.is_alive()]
            if dead:
                found.append(f"Dramatiq threads died: {', '.join(sorted(dead))}")
        now = self.clock()
        with self._lock:
            busy = list(self._busy.values())
        for b in busy:
            silent = now - b.progress_at
            if silent > self.stuck_after:
                found.append(
                    f"{b.actor} message {b.message_id} has made no progress for {silent:.0f} s"
                )
        return found
