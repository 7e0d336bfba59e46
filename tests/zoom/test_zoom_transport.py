from __future__ import annotations

import os

import pytest

from service.zoom.transport import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_READ_TIMEOUT,
    Transport,
)


def test_one_pooled_client_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    transport = Transport()
    try:
        first = transport.client
        assert transport.client is first
        monkeypatch.setattr(os, "getpid", lambda: -1)  # as after a fork
        second = transport.client
        assert second is not first
        assert transport.client is second
    finally:
        transport.close()


def test_explicit_timeouts_and_limits() -> None:
    transport = Transport()
    try:
        timeout = transport.client.timeout
        assert (timeout.connect, timeout.read) == (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)
        assert None not in (timeout.write, timeout.pool)
        assert transport.limits.max_connections == DEFAULT_MAX_CONNECTIONS
    finally:
        transport.close()


def test_close_is_idempotent_and_a_closed_transport_reopens() -> None:
    transport = Transport()
    transport.close()
    client = transport.client
    transport.close()
    transport.close()
    assert client.is_closed
    assert not transport.client.is_closed
    transport.close()
