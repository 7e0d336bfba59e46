"""The fake Zoom (`service.devtools.fakezoom`) under uvicorn on a free port, and clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FakeZoom,
    RunningFake,
    running,
)
from service.zoom.backoff import RetryPolicy
from service.zoom.client import ZoomClient

#: Fast retries so that tests of the retry budget do not sleep for seconds.
FAST_RETRY = RetryPolicy(max_retries=3, base_seconds=0.01, cap_seconds=0.05)
#: Short read timeout so that the SLOW fault can trip it quickly (seconds).
TEST_TIMEOUT = httpx.Timeout(connect=2.0, read=1.0, write=2.0, pool=2.0)

MakeClient = Callable[..., ZoomClient]


@pytest.fixture
def retry_policy() -> RetryPolicy:
    return FAST_RETRY


@pytest.fixture
def fake() -> FakeZoom:
    return FakeZoom()


@pytest.fixture
def server(fake: FakeZoom) -> Iterator[RunningFake]:
    with running(fake) as served:
        yield served


@pytest.fixture
def make_client(server: RunningFake) -> Iterator[MakeClient]:
    made: list[ZoomClient] = []

    def make(**overrides: Any) -> ZoomClient:
        options: dict[str, Any] = {
            "account_id": DEFAULT_ACCOUNT_ID,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "api_base_url": server.api_url,
            "oauth_url": server.oauth_url,
            "retry": FAST_RETRY,
            "timeout": TEST_TIMEOUT,
        }
        client = ZoomClient(**(options | overrides))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: MakeClient) -> ZoomClient:
    return make_client()
