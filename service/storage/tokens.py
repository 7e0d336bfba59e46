"""The Zoom access token in the database, shared by every worker process.

Each method is one statement that commits on its own: a lease must be visible to the other
workers at once. The compare-and-set conditions are the ones `service.zoom.tokens.TokenStore`
describes.
"""

from __future__ import annotations

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from service.storage.models import zoom_tokens
from service.zoom.tokens import StoredToken


class DatabaseTokenStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def __repr__(self) -> str:
        return f"<DatabaseTokenStore {self.engine.dialect.name}>"

    def load(self, key: str) -> StoredToken | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(zoom_tokens.c.access_token, zoom_tokens.c.expires_at).where(
                    zoom_tokens.c.key == key
                )
            ).one_or_none()
        if row is None or row.access_token is None or row.expires_at is None:
            return None
        return StoredToken(access_token=row.access_token, expires_at=row.expires_at)

    def acquire_lease(self, key: str, owner: str, *, now: float, until: float) -> bool:
        c = zoom_tokens.c
        with self.engine.begin() as conn:
            conn.execute(
                self._insert(zoom_tokens)
                .values(key=key)
                .on_conflict_do_nothing(index_elements=["key"])
            )
        with self.engine.begin() as conn:
            won = conn.execute(
                update(zoom_tokens)
                .where(
                    c.key == key,
                    c.lease_owner.is_(None) | (c.lease_until <= now) | (c.lease_owner == owner),
                )
                .values(lease_owner=owner, lease_until=until)
            ).rowcount
        return won == 1

    def save(self, key: str, owner: str, token: StoredToken) -> bool:
        c = zoom_tokens.c
        with self.engine.begin() as conn:
            saved = conn.execute(
                update(zoom_tokens)
                .where(c.key == key, c.lease_owner == owner)
                .values(
                    access_token=token.access_token,
                    expires_at=token.expires_at,
                    lease_owner=None,
                    lease_until=None,
                )
            ).rowcount
        return saved == 1

    def release_lease(self, key: str, owner: str) -> None:
        c = zoom_tokens.c
        with self.engine.begin() as conn:
            conn.execute(
                update(zoom_tokens)
                .where(c.key == key, c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
