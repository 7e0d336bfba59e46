"""One heartbeat per process: renews every lease its threads hold, one UPDATE per table.

A claim registers its owner token for as long as the attempt runs; the heartbeat thread
renews all registered tokens every third of the lease. A process that dies stops renewing,
so its rows become claimable when their lease runs out (see service.storage.lease).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from service.storage.lease import LeasedTable
from service.storage.types import utcnow

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, engine: Engine, tables: list[LeasedTable]) -> None:
        self.engine = engine
        self.tables = tables
        self._held: dict[int, set[str]] = {id(table): set() for table in tables}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.interval = min(t.lease.total_seconds() for t in tables) / 3 if tables else 10.0

    @contextmanager
    def holding(self, table: LeasedTable, owner: str) -> Iterator[None]:
        """Keep `owner`'s leases on `table` renewed for the duration of the block."""
        with self._lock:
            self._held[id(table)].add(owner)
        try:
            yield
        finally:
            with self._lock:
                self._held[id(table)].discard(owner)

    def beat(self) -> int:
        """Renew every held lease now; returns how many rows were renewed."""
        with self._lock:
            owners = {key: list(held) for key, held in self._held.items() if held}
        if not owners:
            return 0
        now = utcnow()
        renewed = 0
        with self.engine.begin() as conn:
            for table in self.tables:
                renewed += table.renew(conn, owners.get(id(table), ()), now=now)
        return renewed

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="zoomhooks-heartbeat", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except SQLAlchemyError as exc:
                # A lease that runs out meanwhile is taken over; the holder's guarded write
                # then rolls its attempt back. Nothing is lost either way.
                log.warning("lease heartbeat failed (%s)", type(exc).__name__)
            except Exception:
                log.exception("lease heartbeat failed")
