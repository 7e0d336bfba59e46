"""Several Zoom apps on several accounts, end to end: each app's webhook path and secrets, each
account's credentials and token for its follow-ups, and each account's pace at the governor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    FakeZoom,
    RunningFake,
    running,
)
from service.processing.live import FOLLOWUP_RESOURCES
from service.runtime import Runtime
from service.storage.models import followups, webhook_events
from service.zoom import encode_path_id
from tests.conftest import MakeRuntime
from tests.support import (
    BETA,
    TWO_APPS,
    event_body,
    followups_done,
    live_server,
    ops_server,
    signed_headers,
    wait_until,
)
from tests.topology.cluster import minimum_calls

CONFIG = (
    TWO_APPS
    + f"""
[accounts.{BETA.account_id}]
plan = "pro"
share = 0.25
"""
)
#: Beta's Medium budget: 20/s on Pro, a quarter of it.
BETA_MEDIUM_PER_SECOND = 5


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with running(FakeZoom(accounts=[BETA])) as server:
        yield server


@pytest.fixture
def runtime(
    make_runtime: MakeRuntime,
    fake: RunningFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Runtime:
    monkeypatch.setenv("BETA_CLIENT_SECRET", BETA.client_secret)
    config = tmp_path / "zoomhooks.toml"
    config.write_text(CONFIG)
    return make_runtime(
        config_file=str(config),
        webhook_secret_token=None,
        zoom_api_base_url=fake.api_url,
        zoom_oauth_url=fake.oauth_url,
        followup_delay_seconds=0,
        worker_threads=4,
    )


def ended(webinar_id: int, uuid: str, account: str) -> bytes:
    obj: dict[str, Any] = {
        "id": str(webinar_id),
        "uuid": uuid,
        "host_id": "h1",
        "topic": "t",
        "type": 5,
        "start_time": "2024-03-01T14:00:00Z",
        "end_time": "2024-03-01T15:00:00Z",
        "duration": 60,
    }
    return event_body(
        "webinar.ended", obj, event_ts=1_709_305_200_000 + webinar_id, account=account
    )


def post(url: str, body: bytes, secret: str) -> httpx.Response:
    return httpx.post(url, content=body, headers=signed_headers(body, secret=secret), timeout=10)


def test_each_app_has_its_path_and_secrets(runtime: Runtime) -> None:
    body = event_body("meeting.started", {"id": "1", "uuid": "m1=="}, event_ts=1, account="x")
    with live_server(runtime.web_app()) as base, ops_server(runtime) as ops:
        hooks = base + "/webhooks/zoom"
        assert post(hooks + "/beta", body, "beta-old").status_code == 200
        assert post(hooks + "/beta", body, "beta-new").json()["status"] == "duplicate"
        assert post(hooks + "/alpha", body, "beta-new").status_code == 401
        assert post(hooks + "/nobody", body, "beta-new").status_code == 404
        # No environment app: the bare path is not configured, so Zoom would retry it.
        assert post(hooks, body, "beta-new").status_code == 503
        # ... yet the process is ready: the file's apps have their secrets.
        ready = httpx.get(ops + "/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["checks"]["webhook_secret"] == "ok"
        challenge = json.dumps(
            {"event": "endpoint.url_validation", "payload": {"plainToken": "abc"}, "event_ts": 2}
        ).encode()
        answered = post(hooks + "/alpha", challenge, "alpha-secret").json()
        assert answered["plainToken"] == "abc" and len(answered["encryptedToken"]) == 64
    with runtime.engine.connect() as conn:
        assert conn.execute(select(webhook_events.c.app)).scalars().all() == ["beta"]


def test_follow_ups_call_zoom_as_the_account_that_sent_the_event(
    runtime: Runtime, fake: RunningFake
) -> None:
    world = fake.fake.world
    alpha_webinar = world.add_webinar(81000000001, participants=40, absentees=3, questions=2)
    beta_webinars = [
        world.add_webinar(82000000000 + i, participants=700, absentees=2, questions=1, polls=1)
        for i in range(4)
    ]
    runtime.start_workers()
    with live_server(runtime.web_app()) as base:
        hooks = base + "/webhooks/zoom"
        sent = post(
            hooks + "/alpha",
            ended(alpha_webinar.id, alpha_webinar.uuid, DEFAULT_ACCOUNT_ID),
            "alpha-secret",
        )
        assert sent.status_code == 200
        for inst in beta_webinars:
            sent = post(hooks + "/beta", ended(inst.id, inst.uuid, BETA.account_id), "beta-new")
            assert sent.status_code == 200
        wait_until(
            lambda: followups_done(runtime, len(FOLLOWUP_RESOURCES["webinar"]) * 5),
            timeout=60,
            interval=0.1,
        )
    log = fake.fake.log
    alpha_calls = log.records(account_id=DEFAULT_ACCOUNT_ID)
    beta_calls = log.records(account_id=BETA.account_id)
    alpha_path = encode_path_id(alpha_webinar.uuid)
    # Every alpha call names alpha's instance (registrants: its webinar number).
    alpha_number = f"/webinars/{alpha_webinar.id}/"
    assert all(
        alpha_path in r.raw_path or alpha_number in r.raw_path
        for r in alpha_calls
        if r.operation_id != "oauthToken"
    )
    assert not any(alpha_path in r.raw_path for r in beta_calls)
    alpha_minimum = sum(minimum_calls([alpha_webinar]).values())
    assert len([r for r in alpha_calls if r.operation_id != "oauthToken"]) == alpha_minimum
    # One call per page of every listing of the 4 webinars, and one token per account.
    beta_minimum = sum(minimum_calls(beta_webinars).values())
    assert len([r for r in beta_calls if r.operation_id != "oauthToken"]) == beta_minimum
    assert fake.fake.calls("oauthToken") == 2
    # Beta's pace: never more Medium calls in any second than its budget allows.
    assert (
        fake.fake.peak_rate(category="Medium", account_id=BETA.account_id) <= BETA_MEDIUM_PER_SECOND
    )


def test_an_app_cannot_spend_another_accounts_credentials(
    runtime: Runtime, fake: RunningFake
) -> None:
    """Alpha's secret verifies an event that names beta's account (a leaked secret, or a
    mistaken setup): its follow-ups fail, naming both, and Zoom is never called with beta's
    credentials or on beta's budget."""
    inst = fake.fake.world.add_webinar(82000000099, participants=5)
    runtime.start_workers()
    with live_server(runtime.web_app()) as base:
        sent = post(
            base + "/webhooks/zoom/alpha",
            ended(inst.id, inst.uuid, BETA.account_id),
            "alpha-secret",
        )
        assert sent.status_code == 200

        def all_ended() -> bool:
            with runtime.engine.connect() as conn:
                found = conn.execute(select(followups.c.status, followups.c.last_error)).all()
            return len(found) == len(FOLLOWUP_RESOURCES["webinar"]) and {
                row.status for row in found
            } == {"failed"}

        wait_until(all_ended, timeout=30, interval=0.1)
    with runtime.engine.connect() as conn:
        errors = set(conn.execute(select(followups.c.last_error)).scalars())
        apps = set(conn.execute(select(followups.c.app)).scalars())
    assert apps == {"alpha"}
    (error,) = errors
    assert "'alpha'" in error and BETA.account_id in error and DEFAULT_ACCOUNT_ID in error
    assert fake.fake.calls(account_id=BETA.account_id) == 0
    assert fake.fake.calls() == 0
