"""Windows a WebSocket subscription had no open socket, until each is reconciled.

Zoom does not replay events sent while no socket was open. After every reconnect the
listener records the window here, durably, before anything else; the subscription's holder
then reconciles it against Zoom's past instances (service.processing.gaps) and marks it
`done`, or retries it later, up to `failed` with the reason. A listener that dies in between
leaves the row `pending` for the next holder.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from service.storage.inbox import MAX_ERROR_LENGTH
from service.storage.models import websocket_gaps
from service.storage.types import utcnow

#: Gaps one reconcile round takes.
DEFAULT_BATCH = 20


@dataclass(frozen=True, slots=True)
class Gap:
    id: int
    subscription_id: str
    app: str
    account_id: str | None
    gap_from: datetime
    gap_to: datetime
    attempts: int


class Gaps:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        *,
        subscription_id: str,
        app: str,
        account_id: str | None,
        gap_from: datetime,
        gap_to: datetime,
        due_at: datetime,
    ) -> int:
        now = utcnow()
        with self.engine.begin() as conn:
            gap_id: int = conn.execute(
                insert(websocket_gaps)
                .values(
                    subscription_id=subscription_id,
                    app=app,
                    account_id=account_id,
                    gap_from=gap_from,
                    gap_to=gap_to,
                    status="pending",
                    due_at=due_at,
                    created_at=now,
                    updated_at=now,
                )
                .returning(websocket_gaps.c.id)
            ).scalar_one()
        return gap_id

    def due(
        self,
        subscription_ids: Collection[str],
        *,
        now: datetime | None = None,
        limit: int = DEFAULT_BATCH,
    ) -> list[Gap]:
        """The pending gaps of these subscriptions whose attempt is due, oldest first."""
        if not subscription_ids:
            return []
        c = websocket_gaps.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    c.id, c.subscription_id, c.app, c.account_id, c.gap_from, c.gap_to, c.attempts
                )
                .where(
                    c.status == "pending",
                    c.due_at <= (now or utcnow()),
                    c.subscription_id.in_(list(subscription_ids)),
                )
                .order_by(c.id)
                .limit(limit)
            ).all()
        return [Gap(**row._mapping) for row in rows]

    def done(self, gap_id: int, *, backfilled: int) -> None:
        self._finish(gap_id, status="done", backfilled=backfilled, last_error=None)

    def retry(self, gap_id: int, error: str, *, at: datetime | None, backfilled: int) -> None:
        """A failed attempt: again at `at`, or `failed` for good when `at` is None."""
        values: dict[str, object] = {"due_at": at} if at is not None else {}
        self._finish(
            gap_id,
            status="pending" if at is not None else "failed",
            backfilled=backfilled,
            last_error=error[:MAX_ERROR_LENGTH],
            **values,
        )

    def _finish(self, gap_id: int, **values: object) -> None:
        c = websocket_gaps.c
        with self.engine.begin() as conn:
            conn.execute(
                update(websocket_gaps)
                .where(c.id == gap_id, c.status == "pending")
                .values(attempts=c.attempts + 1, updated_at=utcnow(), **values)
            )
