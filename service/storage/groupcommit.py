"""Group commit: concurrent writers share one transaction and one fsync.

One thread per process owns the writes. Callers hand it an item and get a future; the thread
takes everything queued so far (up to `max_batch`), writes it in one call, then resolves every
future with its own result. While one batch commits, the next one gathers, so the batch size
follows the load by itself: one item when idle, dozens under a burst. A future resolves only
after its item's batch has committed, never before.

A caller on an event loop (`submit_async`) gets an asyncio future instead, which the thread
resolves with one callback per batch and loop: one thread hop per batch instead of one per
item (and no threading.Condition per item, which `concurrent.futures.Future` makes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Most items one batch takes.
DEFAULT_MAX_BATCH = 256


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        write: Callable[[Sequence[T]], Sequence[R]],
        *,
        after: Callable[[Sequence[T], Sequence[R]], None] | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        name: str = "zoomhooks-group-commit",
    ) -> None:
        """`write` stores a batch atomically and returns one result per item, in order;
        `after` runs once the batch has committed, before the futures resolve."""
        self.write = write
        self.after = after
        self.max_batch = max_batch
        self.name = name
        self._queue: queue.SimpleQueue[tuple[T, Waiter[R]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0

    def submit(self, item: T) -> Future[R]:
        future: Future[R] = Future()
        self._start()
        self._queue.put((item, future))
        return future

    def submit_async(self, item: T) -> asyncio.Future[R]:
        """`submit` for a caller on a running event loop: the future resolves on that loop.
        Cancelling it (a caller's deadline) does not take the item out of its batch."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._start()
        self._queue.put((item, future))
        return future

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[T, Waiter[R]]]) -> None:
        items = [item for item, _ in batch]
        for _, waiter in batch:
            if isinstance(waiter, Future):
                waiter.set_running_or_notify_cancel()
        try:
            results = self.write(items)
        except BaseException as exc:
            failed: list[tuple[Waiter[R], R | None]] = [(waiter, None) for _, waiter in batch]
            _resolve(failed, exc)
            return
        self.batches += 1
        if self.after is not None:
            try:
                self.after(items, results)
            except Exception:
                log.exception("after-commit step of a batch failed")
        _resolve([(waiter, r) for (_, waiter), r in zip(batch, results, strict=True)], None)


#: What a submitter waits on.
Waiter = Future[R] | asyncio.Future[R]


def _resolve(outcomes: list[tuple[Waiter[R], R | None]], error: BaseException | None) -> None:
    """Set each waiter's result (or `error`): thread futures here, asyncio futures with one
    call per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[R], R | None]]] = {}
    for waiter, result in outcomes:
        if isinstance(waiter, Future):
            if not waiter.running():
                continue  # cancelled before its batch began
            if error is None:
                waiter.set_result(result)  # type: ignore[arg-type]
            else:
                waiter.set_exception(error)
        else:
            by_loop.setdefault(waiter.get_loop(), []).append((waiter, result))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle, settled, error)


def _settle(settled: list[tuple[asyncio.Future[R], R | None]], error: BaseException | None) -> None:
    for future, result in settled:
        if future.done():
            continue  # its caller gave up (deadline)
        if error is None:
            future.set_result(result)  # type: ignore[arg-type]
        else:
            future.set_exception(error)
