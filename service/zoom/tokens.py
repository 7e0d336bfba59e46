"""Where the Server-to-Server OAuth access token is kept, shared by every worker process.

Zoom limits how many tokens an app may hold and a new token can invalidate older ones, so N
workers starting together must fetch one token, not N. `TokenStore` is the seam: one record per
key holding (access_token, expires_at, lease_owner, lease_until). A worker that finds no fresh
token takes a short lease, fetches, saves and thereby releases; the others wait and re-read.

A SQL implementation maps each method onto one statement on a table
`zoom_tokens(key PRIMARY KEY, access_token NULL, expires_at NULL, lease_owner NULL,
lease_until NULL)`, times in epoch seconds:

- `load`: `SELECT access_token, expires_at FROM zoom_tokens WHERE key = :key`
  (None when there is no row or no token).
- `acquire_lease`: `INSERT ... ON CONFLICT (key) DO NOTHING` the empty row, then
  `UPDATE zoom_tokens SET lease_owner = :owner, lease_until = :until WHERE key = :key AND
  (lease_owner IS NULL OR lease_until <= :now OR lease_owner = :owner)`; True iff one row changed.
- `save`: `UPDATE zoom_tokens SET access_token = :token, expires_at = :expires_at,
  lease_owner = NULL, lease_until = NULL WHERE key = :key AND lease_owner = :owner`; True iff one
  row changed. A worker whose lease ran out and was taken over must not overwrite a newer token.
- `release_lease`: `UPDATE zoom_tokens SET lease_owner = NULL, lease_until = NULL
  WHERE key = :key AND lease_owner = :owner`.

Each statement commits on its own (autocommit): a lease must be visible to other workers at once.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class StoredToken:
    """An access token and when it stops working (epoch seconds). The token never shows in reprs."""

    access_token: str = field(repr=False)
    expires_at: float

    def fresh(self, now: float, margin_seconds: float) -> bool:
        """Still usable for at least `margin_seconds`."""
        return now + margin_seconds < self.expires_at


@runtime_checkable
class TokenStore(Protocol):
    def load(self, key: str) -> StoredToken | None:
        """The saved token for `key`, or None."""

    def acquire_lease(self, key: str, owner: str, *, now: float, until: float) -> bool:
        """Take (or extend) the right to fetch a token for `key` until `until`.

        Succeeds if nobody holds the lease, the holder's lease ended at or before `now`, or
        `owner` already holds it. Returns whether `owner` holds the lease afterwards.
        """

    def save(self, key: str, owner: str, token: StoredToken) -> bool:
        """Store `token` and release the lease, only if `owner` still holds it. Returns that."""

    def release_lease(self, key: str, owner: str) -> None:
        """Give the lease up without saving (the fetch failed). No-op if `owner` lost it."""


def token_key(account_id: str, client_id: str) -> str:
    """The store key for one app in one account. Both IDs are identifiers, not secrets; hashed
    so the key has a fixed length and reveals nothing in a table dump."""
    digest = hashlib.sha256(f"{account_id}\0{client_id}".encode()).hexdigest()[:32]
    return f"zoom-s2s:{digest}"


@dataclass(slots=True)
class _Row:
    token: StoredToken | None = None
    lease_owner: str | None = None
    lease_until: float = 0.0


class MemoryTokenStore:
    """A `TokenStore` in this process's memory: for tests and single-process deployments.

    Thread-safe; every method is atomic under one lock, like the single-row SQL statements.
    """

    def __init__(self) -> None:
        self._rows: dict[str, _Row] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MemoryTokenStore keys={len(self._rows)}>"

    def load(self, key: str) -> StoredToken | None:
        with self._lock:
            row = self._rows.get(key)
            return row.token if row else None

    def acquire_lease(self, key: str, owner: str, *, now: float, until: float) -> bool:
        with self._lock:
            row = self._rows.setdefault(key, _Row())
            if row.lease_owner is None or row.lease_until <= now or row.lease_owner == owner:
                row.lease_owner = owner
                row.lease_until = until
                return True
            return False

    def save(self, key: str, owner: str, token: StoredToken) -> bool:
        with self._lock:
            row = self._rows.get(key)
            if row is None or row.lease_owner != owner:
                return False
            row.token = token
            row.lease_owner = None
            row.lease_until = 0.0
            return True

    def release_lease(self, key: str, owner: str) -> None:
        with self._lock:
            row = self._rows.get(key)
            if row is not None and row.lease_owner == owner:
                row.lease_owner = None
                row.lease_until = 0.0
