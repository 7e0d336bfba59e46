"""The two kinds of token the fake hands out: OAuth access tokens and `next_page_token`s.

Both are opaque random strings backed by server-side state, so tests can expire them at will.
Time comes from an injectable monotonic clock (seconds), so expiry can be tested without sleeping.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

#: Lifetime of an access token (seconds); Zoom's is one hour and it reports `expires_in: 3599`.
DEFAULT_TOKEN_LIFETIME = 3600.0
#: Lifetime of a `next_page_token` (seconds): Zoom documents 15 minutes.
DEFAULT_PAGE_TOKEN_TTL = 15 * 60.0
#: Length of a `next_page_token`, like Zoom's (`Tva2CuIdTgsv8wAnhyAdU3m06Y2HuLQtlh3`).
PAGE_TOKEN_LENGTH = 35

Clock = Callable[[], float]
TokenState = Literal["valid", "expired", "invalid"]
_ALPHABET = string.ascii_letters + string.digits


class ManualClock:
    """A monotonic clock (seconds) that moves only when told: pass it as `FakeZoom(clock=...)`
    to expire access and page tokens without sleeping."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    issued_at: float
    expires_at: float
    #: The account the token was issued for (None: issued without one).
    account_id: str | None = None


class AccessTokens:
    """Issues and checks bearer tokens; counts issuances.

    With `single_active`, issuing a token invalidates the earlier ones of the same account, as
    Zoom did for Server-to-Server OAuth apps before it let several tokens live at once.
    """

    def __init__(
        self,
        *,
        lifetime: float = DEFAULT_TOKEN_LIFETIME,
        single_active: bool = False,
        clock: Clock = time.monotonic,
    ) -> None:
        self.lifetime = lifetime
        self.single_active = single_active
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, AccessToken] = {}
        self.issued = 0

    def issue(self, account_id: str | None = None) -> AccessToken:
        now = self._clock()
        value = "fz." + secrets.token_urlsafe(32)
        token = AccessToken(value, now, now + self.lifetime, account_id)
        with self._lock:
            self._tokens = {
                k: v
                for k, v in self._tokens.items()
                if v.expires_at > now - 3600
                and not (self.single_active and v.account_id == account_id)
            }
            self._tokens[token.value] = token
            self.issued += 1
        return token

    def check(self, value: str) -> TokenState:
        return self.lookup(value)[0]

    def lookup(self, value: str) -> tuple[TokenState, AccessToken | None]:
        """The token's state, and the token itself unless it is unknown."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            return "invalid", None
        return ("valid" if self._clock() < token.expires_at else "expired"), token

    def expire_all(self) -> None:
        """Make every issued token expired now (they answer "Access token is expired.")."""
        now = self._clock()
        with self._lock:
            self._tokens = {
                k: AccessToken(v.value, v.issued_at, now, v.account_id)
                for k, v in self._tokens.items()
            }

    def reset(self) -> None:
        with self._lock:
            self._tokens.clear()
            self.issued = 0


@dataclass(frozen=True, slots=True)
class _Cursor:
    scope: str
    offset: int
    created_at: float


class PageTokens:
    """`next_page_token` -> position in one listing. Tokens are reusable until they expire,
    so a client may retry a page after a 5xx or 429."""

    def __init__(
        self, *, ttl: float = DEFAULT_PAGE_TOKEN_TTL, clock: Clock = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cursors: dict[str, _Cursor] = {}

    def issue(self, scope: str, offset: int) -> str:
        """A token for row `offset` of the listing `scope` (operation + instance)."""
        value = "".join(secrets.choice(_ALPHABET) for _ in range(PAGE_TOKEN_LENGTH))
        now = self._clock()
        with self._lock:
            if len(self._cursors) > 10_000:
                self._cursors = {
                    k: c for k, c in self._cursors.items() if now - c.created_at < self.ttl
                }
            self._cursors[value] = _Cursor(scope, offset, now)
        return value

    def resolve(self, value: str, scope: str) -> int | None:
        """The offset `value` points at, or None if unknown, expired or from another listing."""
        with self._lock:
            cursor = self._cursors.get(value)
        if cursor is None or cursor.scope != scope or self._clock() - cursor.created_at >= self.ttl:
            return None
        return cursor.offset

    def expire_all(self) -> None:
        with self._lock:
            self._cursors.clear()

    def __len__(self) -> int:
        return len(self._cursors)
