"""Where the governor keeps its state: one small record per key, changed atomically.

The governor asks for one thing, `update(key, change)`: read the record (None if there is
none), let `change` compute the new record and a result, write it back, and let nobody else
change that key in between. Every worker process that paces the same Zoom account must share
one store: Redis (`redis.RedisStateStore`), the database (`service.storage.ratestate`), or,
for one process alone, `MemoryStateStore`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from .pace import State

T = TypeVar("T")
#: (the record, or None) → (the new record, the caller's result).
Change = Callable[[State | None], tuple[dict[str, float], T]]

#: Records untouched this long may be dropped (seconds): a day's count must outlive its day.
DEFAULT_STATE_TTL = 2 * 24 * 60 * 60


class StateStore(Protocol):
    def update(self, key: str, change: Change[T], *, ttl: float = DEFAULT_STATE_TTL) -> T: ...

    def close(self) -> None:
        """Let go of connections of the store's own (not of an engine it was handed)."""


class MemoryStateStore:
    """For one process (the embedded default): a dict under a lock."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, tuple[dict[str, float], float]] = {}

    def __repr__(self) -> str:
        return f"<MemoryStateStore keys={len(self._records)}>"

    def update(self, key: str, change: Change[T], *, ttl: float = DEFAULT_STATE_TTL) -> T:
        with self._lock:
            now = self._clock()
            found = self._records.get(key)
            current = found[0] if found is not None and found[1] > now else None
            record, result = change(current)
            self._records[key] = (dict(record), now + ttl)
            return result

    def close(self) -> None:
        pass
