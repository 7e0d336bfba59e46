"""One heartbeat per process: renews every lease its threads hold, one UPDATE per table.

A claim registers its owner token for as long as the attempt runs; the heartbeat thread
renews all registered tokens every third of the lease. A process that dies stops renewing,
so its rows become claimable when their lease runs out (see service.storage.lease).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from service.periodic import Periodic
from service.storage.lease import LeasedTable
from service.storage.types import utcnow


class Heartbeat(Periodic):
    # A lease that runs out while the beat fails is taken over; the holder's guarded write
    # then rolls its attempt back. Nothing is lost either way.
    name = "zoomhooks-heartbeat"

    def __init__(self, engine: Engine, tables: list[LeasedTable]) -> None:
        super().__init__(min(t.lease.total_seconds() for t in tables) / 3)
        self.engine = engine
        self.tables = tables
        self._held: dict[int, set[str]] = {id(table): set() for table in tables}
        self._lock = threading.Lock()

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

    def tick(self) -> int:
        return self.beat()
