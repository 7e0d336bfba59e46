"""Who holds each Zoom WebSocket subscription: one listener cluster-wide, by a lease.

Zoom keeps one connection per subscription, and a second one may close the first, so two
listeners must never both connect. Each listener tries to take the subscription's row; the
holder renews its lease every third of it and keeps `alive_at`, the last moment it knew its
socket worked. A listener that dies stops renewing: once the lease runs out another one takes
the row over, and reads `alive_at` as the start of the window nobody was listening.
Each method is one short transaction; the conditions re-check the holder, so a listener whose
lease was taken over finds its renewal matching nothing and stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from service.storage.lease import DEFAULT_LEASE_SECONDS
from service.storage.models import websocket_subscriptions
from service.storage.types import utcnow


@dataclass(frozen=True, slots=True)
class Held:
    """A subscription taken by `owner` until `until`."""

    subscription_id: str
    owner: str
    until: datetime
    #: When the last holder last knew its socket worked; None: no socket was ever open.
    alive_at: datetime | None


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a subscription now, for status and readiness."""

    owner: str | None
    until: datetime | None
    connected_at: datetime | None
    alive_at: datetime | None


class SubscriptionLeases:
    def __init__(
        self, engine: Engine, *, lease: timedelta = timedelta(seconds=DEFAULT_LEASE_SECONDS)
    ) -> None:
        self.engine = engine
        self.lease = lease
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def acquire(
        self, subscription_id: str, app: str, owner: str, *, now: datetime | None = None
    ) -> Held | None:
        """Take the subscription if nobody holds it, its lease ran out, or `owner` holds it."""
        now = now or utcnow()
        c = websocket_subscriptions.c
        with self.engine.begin() as conn:
            conn.execute(
                self._insert(websocket_subscriptions)
                .values(subscription_id=subscription_id, app=app, updated_at=now)
                .on_conflict_do_nothing(index_elements=["subscription_id"])
            )
            row = conn.execute(
                update(websocket_subscriptions)
                .where(
                    c.subscription_id == subscription_id,
                    c.lease_owner.is_(None) | (c.lease_until < now) | (c.lease_owner == owner),
                )
                .values(
                    app=app,
                    lease_owner=owner,
                    lease_until=now + self.lease,
                    connected_at=None,
                    updated_at=now,
                )
                .returning(c.alive_at)
            ).one_or_none()
        if row is None:
            return None
        return Held(subscription_id, owner, now + self.lease, row.alive_at)

    def renew(
        self,
        subscription_id: str,
        owner: str,
        *,
        connected_at: datetime | None,
        alive_at: datetime | None,
        now: datetime | None = None,
    ) -> datetime | None:
        """Extend `owner`'s lease and record its socket's state; the new end of the lease, or
        None when another listener holds the subscription now (stop listening at once)."""
        now = now or utcnow()
        values: dict[str, Any] = {
            "lease_until": now + self.lease,
            "connected_at": connected_at,
            "updated_at": now,
        }
        if alive_at is not None:
            values["alive_at"] = alive_at
        c = websocket_subscriptions.c
        with self.engine.begin() as conn:
            won = conn.execute(
                update(websocket_subscriptions)
                .where(c.subscription_id == subscription_id, c.lease_owner == owner)
                .values(**values)
            ).rowcount
        return now + self.lease if won == 1 else None

    def release(self, subscription_id: str, owner: str, *, alive_at: datetime | None) -> None:
        """Give the subscription up (shutting down): another listener may take it at once,
        and reconciles from `alive_at`."""
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_until": None,
            "connected_at": None,
            "updated_at": utcnow(),
        }
        if alive_at is not None:
            values["alive_at"] = alive_at
        c = websocket_subscriptions.c
        with self.engine.begin() as conn:
            conn.execute(
                update(websocket_subscriptions)
                .where(c.subscription_id == subscription_id, c.lease_owner == owner)
                .values(**values)
            )

    def holder(self, subscription_id: str) -> Holder | None:
        c = websocket_subscriptions.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(c.lease_owner, c.lease_until, c.connected_at, c.alive_at).where(
                    c.subscription_id == subscription_id
                )
            ).one_or_none()
        if row is None:
            return None
        return Holder(row.lease_owner, row.lease_until, row.connected_at, row.alive_at)
