"""One pooled `httpx.Client` per process, explicit timeouts, and retries of what may succeed later.

Transport errors (connect/read timeouts, resets) and 5xx answers are retried with bounded
exponential backoff and jitter. 4xx answers, 429 included, go back to the caller at once: they
are classified there, and a 429 is waited out by the queue, not by a sleeping worker thread.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from service import metrics

from .backoff import RetryPolicy
from .errors import Outcome
from .exceptions import ZoomAPIError

log = logging.getLogger(__name__)

#: Establishing a TCP+TLS connection to Zoom (seconds).
DEFAULT_CONNECT_TIMEOUT = 5.0
#: Waiting for response bytes; a 300-record page can take seconds to render (seconds).
DEFAULT_READ_TIMEOUT = 30.0
#: Sending the request (seconds).
DEFAULT_WRITE_TIMEOUT = 10.0
#: Waiting for a free pooled connection (seconds).
DEFAULT_POOL_TIMEOUT = 10.0
#: Connections per process (worker threads share them).
DEFAULT_MAX_CONNECTIONS = 20
#: Idle keep-alive connections per process.
DEFAULT_MAX_KEEPALIVE_CONNECTIONS = 10

TRACKING_HEADER = "x-zm-trackingid"


def default_timeout() -> httpx.Timeout:
    return httpx.Timeout(
        connect=DEFAULT_CONNECT_TIMEOUT,
        read=DEFAULT_READ_TIMEOUT,
        write=DEFAULT_WRITE_TIMEOUT,
        pool=DEFAULT_POOL_TIMEOUT,
    )


def default_limits() -> httpx.Limits:
    return httpx.Limits(
        max_connections=DEFAULT_MAX_CONNECTIONS,
        max_keepalive_connections=DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
    )


def tracking_id(response: httpx.Response) -> str | None:
    value = response.headers.get(TRACKING_HEADER)
    return str(value) if value is not None else None


#: Told of every request made: (endpoint name, rate-limit category, HTTP status or None).
OnRequest = Callable[[str, str, int | None], None]


class Pacer(Protocol):
    """Paces the API calls of one Zoom account (see `service.governor`).

    `acquire` returns when a call of `category` may go, having slept if need be, or raises
    `Throttled` when the wait would be too long for a worker to sleep through.
    """

    def acquire(self, category: str) -> None: ...

    def rate_limited(self, category: str, retry_after: float, *, daily: bool) -> None: ...


class Transport:
    """Sends requests through this process's pooled client, retrying transient failures.

    The client is created lazily and again after a fork: a pool inherited from the parent would
    share its sockets with it.
    """

    def __init__(
        self,
        *,
        timeout: httpx.Timeout | None = None,
        limits: httpx.Limits | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        on_request: OnRequest | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.on_request = on_request
        self.pacer = pacer
        self.timeout = timeout or default_timeout()
        self.limits = limits or default_limits()
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._pid = 0

    def __repr__(self) -> str:
        return f"<Transport retries={self.retry.max_retries}>"

    @property
    def client(self) -> httpx.Client:
        pid = os.getpid()
        with self._lock:
            if self._client is None or self._pid != pid:
                self._client = httpx.Client(
                    timeout=self.timeout, limits=self.limits, follow_redirects=False
                )
                self._pid = pid
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                self._client.close()
            self._client = None

    def send(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        timeout: httpx.Timeout | None = None,
        category: str = "",
        json: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """The first non-5xx response, or the last 5xx once the retries are spent.

        Raises `ZoomAPIError` (TRANSIENT) when the network failed on every attempt.
        """
        retry = 0
        while True:
            # Every attempt counts against Zoom's limits, retries included; OAuth has no category.
            if category and self.pacer is not None:
                self.pacer.acquire(category)
            try:
                response = self.client.request(
                    method,
                    url,
                    params=params,
                    headers=headers,
                    json=json,
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                    timeout=timeout or httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as exc:
                self._count(endpoint, category, None)
                retry += 1
                if retry > self.retry.max_retries:
                    raise ZoomAPIError(
                        Outcome.TRANSIENT,
                        f"Could not reach Zoom for {endpoint} after {retry} attempts "
                        f"({type(exc).__name__}: {exc}); retried later.",
                        endpoint=endpoint,
                    ) from exc
                self._wait(retry, endpoint, type(exc).__name__)
                continue
            self._count(
                endpoint,
                response.headers.get("x-ratelimit-category") or category,
                response.status_code,
            )
            if response.status_code < 500 or retry >= self.retry.max_retries:
                return response
            retry += 1
            response.close()
            self._wait(retry, endpoint, f"HTTP {response.status_code} {tracking_id(response)}")

    def _count(self, endpoint: str, category: str, status: int | None) -> None:
        """Every request made, retries included: they all count against Zoom's limits."""
        metrics.ZOOM_REQUESTS.labels(endpoint, category, str(status or "error")).inc()
        if self.on_request is not None:
            try:
                self.on_request(endpoint, category, status)
            except Exception:
                # Counting must never fail the call it counts.
                log.warning("recording a Zoom request failed", exc_info=True)

    def _wait(self, retry: int, endpoint: str, what: str) -> None:
        delay = self.retry.delay(retry, self._rng)
        log.warning(
            "zoom %s failed (%s); retry %d/%d in %.2fs",
            endpoint,
            what,
            retry,
            self.retry.max_retries,
            delay,
        )
        self._sleep(delay)
