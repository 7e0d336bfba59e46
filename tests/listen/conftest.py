"""A fake Zoom with WebSocket subscriptions, and runtimes that listen to it over real sockets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FakeZoom,
    RunningFake,
    running,
)
from service.runtime import Runtime
from service.storage.models import webhook_events
from tests.conftest import MakeRuntime

SUBSCRIPTION = "sub-main"
#: Short enough that a dead socket is noticed within a second or so.
HEARTBEAT = 0.2
HEARTBEAT_TIMEOUT = 0.6


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with running(FakeZoom()) as server:
        yield server


def listen_settings(fake: RunningFake, **overrides: Any) -> dict[str, Any]:
    """Settings of a runtime whose environment app listens to the fake's subscription."""
    return {
        "zoom_account_id": DEFAULT_ACCOUNT_ID,
        "zoom_client_id": DEFAULT_CLIENT_ID,
        "zoom_client_secret": DEFAULT_CLIENT_SECRET,
        "zoom_api_base_url": fake.api_url,
        "zoom_oauth_url": fake.oauth_url,
        "zoom_websocket_url": fake.ws_url,
        "zoom_websocket_subscription_id": SUBSCRIPTION,
        "listen_heartbeat_seconds": HEARTBEAT,
        "listen_heartbeat_timeout_seconds": HEARTBEAT_TIMEOUT,
        "listen_reconnect_max_seconds": 0.5,
        "lease_seconds": 3,
        "followup_delay_seconds": 0,
        "not_ready_retry_seconds": 0.05,
        **overrides,
    }


MakeListening = Callable[..., Runtime]


@pytest.fixture
def make_listening(make_runtime: MakeRuntime, fake: RunningFake) -> MakeListening:
    """A migrated runtime listening to the fake (closed after the test)."""

    def make(*, workers: bool = False, **overrides: Any) -> Runtime:
        runtime = make_runtime(**listen_settings(fake, **overrides))
        if workers:
            runtime.start_embedded()
        runtime.start_listening()
        return runtime

    return make


def state(runtime: Runtime) -> str:
    assert runtime.listeners is not None
    return runtime.listeners.states()["default"]


def connected(runtime: Runtime, fake: RunningFake) -> Callable[[], bool]:
    """The runtime's listener is connected, and the fake has its socket open."""

    def check() -> bool:
        return state(runtime) == "connected" and fake.fake.sockets.stats(SUBSCRIPTION).open == 1

    return check


def event(n: int, name: str = "meeting.participant_joined", **obj: Any) -> dict[str, Any]:
    """A distinct webhook body per `n`."""
    return {
        "event": name,
        "event_ts": 1_700_000_000_000 + n,
        "payload": {
            "account_id": DEFAULT_ACCOUNT_ID,
            "object": {"id": 81234567890, "uuid": "inst==", "participant": {"user_id": str(n)}}
            | obj,
        },
    }


def rows(runtime: Runtime) -> list[tuple[str, int, str]]:
    """(dedupe key, deliveries, transport) of every inbox row."""
    c = webhook_events.c
    with runtime.engine.connect() as conn:
        found = conn.execute(select(c.dedupe_key, c.deliveries, c.transport).order_by(c.id)).all()
    return [(r.dedupe_key, r.deliveries, r.transport) for r in found]


def count(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(webhook_events)).scalar_one())
