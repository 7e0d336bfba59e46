"""Every subscription's listener on one event loop, in a thread of its own.

`zoomhooks listen` (and `serve --listen`) start it beside the process's other parts. Its
probe answers `/livez` (the loop runs) and `/readyz` (each subscription is open here, or held
by another listener while this one stands by).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence

from service.listen.listener import Listener, Store
from service.storage.inbox import Inbox, NewEvent, Recorded

log = logging.getLogger(__name__)

#: How often the loop proves it runs (seconds), and how stale that may get before /livez
#: fails: nothing on the loop blocks for long (database calls run in threads).
DEFAULT_TICK = 1.0
DEFAULT_STALL = 60.0
#: How long `stop` waits for the listeners to commit what they hold and release their
#: subscriptions (seconds).
DEFAULT_STOP_TIMEOUT = 15.0


def inbox_store(inbox: Inbox, enqueue: Callable[[int], None]) -> Store:
    """Commit an event to the inbox in a transaction of its own, then enqueue it like a
    webhook (a failed enqueue is the sweeper's to retry: the row is what counts)."""

    def store(new: NewEvent) -> Recorded:
        recorded = inbox.record(new)
        if not recorded.duplicate:
            try:
                enqueue(recorded.id)
            except Exception:
                log.warning(
                    "enqueue of inbox %s failed; the sweeper will retry", recorded.id, exc_info=True
                )
        return recorded

    return store


class Listeners:
    def __init__(self, listeners: Sequence[Listener]) -> None:
        self.listeners = list(listeners)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._tick = time.monotonic()
        self._crashed: BaseException | None = None

    def __repr__(self) -> str:
        return f"<Listeners {self.listeners}>"

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="zoomhooks-listen", daemon=True)
            self._thread.start()
            self._started.wait()

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        if self._thread is None or self._loop is None or self._stop is None:
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("listeners did not stop within %ss", timeout)

    def held(self) -> set[str]:
        """The subscriptions this process holds now."""
        return {
            listener.subscription.subscription_id
            for listener in self.listeners
            if listener.state in ("connecting", "connected")
        }

    def states(self) -> dict[str, str]:
        return {listener.app: listener.state for listener in self.listeners}

    def problems(self) -> list[str]:
        """Why this process's listening is wedged (a liveness probe fails on any)."""
        if self._thread is None:
            return []
        if self._crashed is not None or not self._thread.is_alive():
            return [f"the listeners' event loop stopped: {self._crashed!r}"]
        stalled = time.monotonic() - self._tick
        if stalled > DEFAULT_STALL:
            return [f"the listeners' event loop has not run for {stalled:.0f}s"]
        return []

    def unready(self) -> list[str]:
        """Why a subscription is neither open here nor held by another listener."""
        found = self.problems()
        for listener in self.listeners:
            if listener.state not in ("connected", "standby"):
                found.append(f"app {listener.app}: {listener.state}")
        return found

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._crashed = exc
            log.exception("the listeners' event loop failed")
            raise
        finally:
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._started.set()
        ticker = asyncio.create_task(self._ticker())
        try:
            await asyncio.gather(*(listener.run(self._stop) for listener in self.listeners))
        finally:
            ticker.cancel()

    async def _ticker(self) -> None:
        while True:
            self._tick = time.monotonic()
            await asyncio.sleep(DEFAULT_TICK)
