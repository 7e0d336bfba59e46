"""Server-to-Server OAuth: one access token per app, shared through a `TokenStore`.

`POST {oauth_url}?grant_type=account_credentials&account_id=...` with HTTP Basic
`client_id:client_secret` returns `{"access_token", "token_type", "expires_in", "scope"}`; the
token lives about an hour and is renewed `renew_margin` seconds before it expires.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from service import metrics

from .errors import Outcome
from .exceptions import RateLimited, TokenUnavailable
from .ratelimit import rate_limit_delay
from .tokens import StoredToken, TokenStore, token_key
from .transport import Transport, tracking_id

log = logging.getLogger(__name__)

DEFAULT_OAUTH_URL = "https://zoom.us/oauth/token"
#: Renew a token this long before it expires (seconds); Zoom's tokens live 3600 s.
DEFAULT_RENEW_MARGIN = 5 * 60
#: How long one worker may hold the right to fetch before others may take over (seconds). Long
#: enough for a fetch with all its retries; only a crashed holder makes others wait this long.
DEFAULT_LEASE_SECONDS = 120.0
#: How long a worker waits for another worker's fetch before giving up (seconds).
DEFAULT_LEASE_WAIT = 150.0
#: How often a waiting worker re-reads the store (seconds).
DEFAULT_LEASE_POLL = 0.2
#: Read timeout of the token request; the OAuth endpoint answers in well under a second (seconds).
DEFAULT_TOKEN_READ_TIMEOUT = 10.0

ENDPOINT_NAME = "oauth_token"


class TokenManager:
    """Hands out a fresh access token, fetching it at most once across all workers sharing `store`.

    Thread-safe. The token is also cached in this object so that most calls touch no store.
    """

    def __init__(
        self,
        *,
        account_id: str,
        client_id: str,
        client_secret: str,
        transport: Transport,
        store: TokenStore,
        oauth_url: str = DEFAULT_OAUTH_URL,
        renew_margin: float = DEFAULT_RENEW_MARGIN,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        lease_wait: float = DEFAULT_LEASE_WAIT,
        lease_poll: float = DEFAULT_LEASE_POLL,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (account_id and client_id and client_secret):
            raise ValueError("account_id, client_id and client_secret are all required")
        self._account_id = account_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._transport = transport
        self._store = store
        self.oauth_url = oauth_url
        self.key = token_key(account_id, client_id)
        self.renew_margin = renew_margin
        self.lease_seconds = lease_seconds
        self.lease_wait = lease_wait
        self.lease_poll = lease_poll
        self._clock = clock
        self._sleep = sleep
        self._cached: StoredToken | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<TokenManager key={self.key} oauth_url={self.oauth_url}>"

    def token(self, *, rejected: str | None = None) -> str:
        """A fresh access token; never `rejected`, the one Zoom just refused."""
        return self.current(rejected=rejected).access_token

    def current(self, *, rejected: str | None = None) -> StoredToken:
        """`token()` with its expiry: fresh for at least `renew_margin` seconds more."""
        cached = self._usable(self._cached, rejected)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._usable(self._cached, rejected)
            if cached is not None:
                return cached
            token = self._from_store(rejected)
            self._cached = token
            return token

    def _usable(self, token: StoredToken | None, rejected: str | None) -> StoredToken | None:
        if token is None or token.access_token == rejected:
            return None
        return token if token.fresh(self._clock(), self.renew_margin) else None

    def _from_store(self, rejected: str | None) -> StoredToken:
        deadline = self._clock() + self.lease_wait
        while True:
            stored = self._usable(self._store.load(self.key), rejected)
            if stored is not None:
                return stored
            owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
            now = self._clock()
            if self._store.acquire_lease(self.key, owner, now=now, until=now + self.lease_seconds):
                return self._fetch_under_lease(owner, rejected)
            if self._clock() >= deadline:
                raise TokenUnavailable(
                    Outcome.TRANSIENT,
                    f"Another worker has held the Zoom token lease for over {self.lease_wait:.0f}s "
                    "without saving a token; retried later.",
                    endpoint=ENDPOINT_NAME,
                )
            self._sleep(self.lease_poll)

    def _fetch_under_lease(self, owner: str, rejected: str | None) -> StoredToken:
        try:
            # Another worker may have saved a token between our read and our lease.
            stored = self._usable(self._store.load(self.key), rejected)
            if stored is not None:
                self._store.release_lease(self.key, owner)
                return stored
            token = self._fetch()
        except BaseException:
            self._store.release_lease(self.key, owner)
            raise
        if not self._store.save(self.key, owner, token):
            log.warning("zoom token lease expired during the fetch; the new token was not shared")
        return token

    def _fetch(self) -> StoredToken:
        base = self._transport.timeout
        timeout = httpx.Timeout(
            connect=base.connect, read=DEFAULT_TOKEN_READ_TIMEOUT, write=base.write, pool=base.pool
        )
        started = self._clock()
        response = self._transport.send(
            "POST",
            self.oauth_url,
            endpoint=ENDPOINT_NAME,
            params={"grant_type": "account_credentials", "account_id": self._account_id},
            auth=httpx.BasicAuth(self._client_id, self._client_secret),
            timeout=timeout,
        )
        body = _json_object(response)
        if response.status_code == 429:
            delay, category, daily = rate_limit_delay(
                response.headers, now=self._clock(), message=str(body.get("message", ""))
            )
            raise RateLimited(
                delay,
                category.value if category else None,
                daily,
                advice="Zoom rate-limited the OAuth token endpoint.",
                endpoint=ENDPOINT_NAME,
                tracking_id=tracking_id(response),
            )
        access_token = body.get("access_token")
        expires_in = body.get("expires_in")
        if response.status_code == 200 and isinstance(access_token, str) and access_token:
            metrics.TOKEN_RENEWALS.inc()
            if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
                expires_in = 3600
            log.info(
                "zoom access token issued: expires in %ds, scopes: %s",
                expires_in,
                body.get("scope", "(not listed)"),
            )
            return StoredToken(access_token=access_token, expires_at=started + float(expires_in))
        reason = str(body.get("reason") or body.get("message") or body.get("error") or "")
        refused = 400 <= response.status_code < 500
        raise TokenUnavailable(
            Outcome.PERMISSION if refused else Outcome.TRANSIENT,
            (
                f"Zoom refused the app's credentials ({reason!r}): check the Server-to-Server "
                "OAuth app's account ID, client ID and client secret, and that it is activated."
                if refused
                else f"Zoom's OAuth endpoint failed ({reason!r}); retried later."
            ),
            endpoint=ENDPOINT_NAME,
            status=response.status_code,
            zoom_message=reason,
            tracking_id=tracking_id(response),
        )


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
