"""Fixtures for the fake Zoom's own tests: a fake served over real HTTP on an ephemeral port."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from service.devtools.fakezoom import FakeZoom, ManualClock, RunningFake, running

#: Client timeout for requests to the local fake (seconds).
CLIENT_TIMEOUT = 10.0
#: The fixture fake's access-token and page-token lifetimes (seconds).
TOKEN_LIFETIME = 60.0
PAGE_TOKEN_TTL = 30.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> FakeZoom:
    return FakeZoom(clock=clock, token_lifetime=TOKEN_LIFETIME, page_token_ttl=PAGE_TOKEN_TTL)


@pytest.fixture(scope="module")
def _served() -> Iterator[RunningFake]:
    # One uvicorn per module (start and stop cost ~0.2 s); each test swaps in its own fake.
    with running(FakeZoom()) as srv:
        yield srv


@pytest.fixture
def server(_served: RunningFake, fake: FakeZoom) -> RunningFake:
    _served.use(fake)
    return _served


@pytest.fixture
def http(server: RunningFake) -> Iterator[httpx.Client]:
    """A client of the whole fake (OAuth, control API), without credentials."""
    with httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT) as client:
        yield client


@pytest.fixture
def api(server: RunningFake, fake: FakeZoom) -> Iterator[httpx.Client]:
    """A client of `/v2` holding a valid bearer token (issued directly: one issuance)."""
    headers = {"Authorization": f"Bearer {fake.issue_token()}"}
    with httpx.Client(base_url=server.api_url, headers=headers, timeout=CLIENT_TIMEOUT) as client:
        yield client
