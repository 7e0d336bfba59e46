"""Zoom API calls per UTC day, account and rate-limit category, shared by every process.

Zoom's daily caps (Heavy and Resource-intensive calls share one) count per account across
every app and process, so the count lives in the database, one atomic increment per call.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from service.storage.models import zoom_api_usage

#: The categories that share Zoom's daily cap.
DAILY_CAPPED = ("Heavy", "Resource-intensive")


def today() -> date:
    return datetime.now(UTC).date()


class UsageRecorder:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(zoom_api_usage)
        self._increment = statement.on_conflict_do_update(
            index_elements=["day", "account_id", "category"],
            set_={"calls": zoom_api_usage.c.calls + statement.excluded.calls},
        )

    def record(self, account_id: str, category: str, calls: int = 1) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                self._increment,
                {"day": today(), "account_id": account_id, "category": category, "calls": calls},
            )

    def on(self, day: date) -> dict[tuple[str, str], int]:
        """(account, category) → calls on `day`."""
        c = zoom_api_usage.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.account_id, c.category, c.calls).where(c.day == day))
            return {(str(a), str(k)): int(n) for a, k, n in rows}
