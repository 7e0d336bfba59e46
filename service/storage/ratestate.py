"""The rate governor's state in the database, for deployments without Redis.

`update` is one short transaction: lock the row (`SELECT ... FOR UPDATE` on PostgreSQL;
SQLite's write lock is taken at BEGIN), compute, write, commit. The row is inserted only the
first time a key is seen, so a call costs one read and one write. Workers pacing
the same account queue on that row lock, which is what makes their calls interleave.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from service.governor.pace import State
from service.governor.store import DEFAULT_STATE_TTL, Change, T
from service.storage.models import zoom_rate_state


class DatabaseStateStore:
    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        c = zoom_rate_state.c
        self._select = select(c.state, c.expires_at).with_for_update()

    def __repr__(self) -> str:
        return f"<DatabaseStateStore {self.engine.dialect.name}>"

    def update(self, key: str, change: Change[T], *, ttl: float = DEFAULT_STATE_TTL) -> T:
        c = zoom_rate_state.c
        now = self._clock()
        with self.engine.begin() as conn:
            row = conn.execute(self._select.where(c.key == key)).one_or_none()
            if row is None:
                # Racing first callers: one inserts, the others find its row and wait on it.
                conn.execute(
                    self._insert(zoom_rate_state)
                    .values(key=key, state="{}", expires_at=now + ttl)
                    .on_conflict_do_nothing(index_elements=["key"])
                )
                row = conn.execute(self._select.where(c.key == key)).one()
            current = _decode(row.state) if row.expires_at > now else None
            record, result = change(current)
            conn.execute(
                update(zoom_rate_state)
                .where(c.key == key)
                .values(state=json.dumps(record), expires_at=now + ttl)
            )
        return result

    def close(self) -> None:
        pass  # the engine is the runtime's


def _decode(text: str) -> State | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not value:
        return None
    return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float)}
