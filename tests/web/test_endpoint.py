"""`POST /webhooks/zoom` end to end through a real uvicorn server, database checked each time."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from service.runtime import Runtime
from service.storage.models import webhook_events
from tests.conftest import MakeRuntime
from tests.support import (
    FIXTURES,
    SECRET,
    compact,
    event_body,
    free_port,
    live_server,
    signed_headers,
    wait_until,
    webhook_fixtures,
)

VECTORS = json.loads((FIXTURES / "signature-test-vectors.selfcomputed.json").read_text())
URL = "/webhooks/zoom"


class Service:
    """`client` talks to the public port, `ops` to the ops port."""

    def __init__(self, runtime: Runtime, client: httpx.Client, ops: httpx.Client) -> None:
        self.runtime = runtime
        self.client = client
        self.ops = ops

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(
            URL, content=body, headers=signed_headers(body) if headers is None else headers
        )

    def rows(self) -> list[dict[str, Any]]:
        with self.runtime.engine.connect() as conn:
            found = conn.execute(select(webhook_events).order_by(webhook_events.c.id)).all()
        return [dict(r._mapping) for r in found]


@contextlib.contextmanager
def serve(runtime: Runtime) -> Iterator[Service]:
    probe = runtime.ops_server(0, "127.0.0.1")
    probe.start()
    try:
        with (
            live_server(runtime.web_app()) as url,
            httpx.Client(base_url=url, timeout=10) as client,
            httpx.Client(base_url=probe.url, timeout=10) as ops,
        ):
            yield Service(runtime, client, ops)
    finally:
        probe.close()


@pytest.fixture
def service(make_runtime: MakeRuntime, database_url: str) -> Iterator[Service]:
    with serve(make_runtime(database_url=database_url)) as svc:
        yield svc


def joined(user: str, ts: int = 1_700_000_000_000) -> bytes:
    obj = {"id": "123", "uuid": "u/x==", "participant": {"user_id": user, "user_name": "Zoë Ä"}}
    return event_body("meeting.participant_joined", obj, event_ts=ts)


STORED = [p for p in webhook_fixtures() if p.stem != "endpoint.url_validation"]


@pytest.mark.parametrize("path", STORED, ids=lambda p: p.stem)
def test_every_fixture_is_accepted_and_stored_verbatim(service: Service, path: Any) -> None:
    body = compact(path)
    headers = signed_headers(body) | {
        "x-zm-trackingid": "v=2.0;clid=aw1;rid=WEB_1",
        "x-zm-request-id": "r-1",
    }
    response = service.post(body, headers)
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    (row,) = service.rows()
    assert row["id"] == response.json()["id"]
    assert row["body"].encode() == body
    assert row["event"] == json.loads(body)["event"]
    assert row["zm_trackingid"] == "v=2.0;clid=aw1;rid=WEB_1"
    assert row["zm_request_id"] == "r-1"
    assert row["request_timestamp"] == int(headers["x-zm-request-timestamp"])


def test_a_redelivery_is_acknowledged_and_stored_once(service: Service) -> None:
    body = joined("u1")
    first = service.post(body, signed_headers(body, timestamp=int(time.time()) - 300))
    second = service.post(body)  # Zoom's retry: same body, new timestamp and signature
    assert first.status_code == second.status_code == 200
    assert second.json() == {"status": "duplicate", "id": first.json()["id"]}
    (row,) = service.rows()
    assert row["deliveries"] == 2


def test_distinct_participants_in_one_millisecond_stay_distinct(service: Service) -> None:
    assert service.post(joined("u1")).status_code == 200
    assert service.post(joined("u2")).status_code == 200
    assert len(service.rows()) == 2


def test_url_validation_is_answered_with_the_verifying_secret(service: Service) -> None:
    case = VECTORS["url_validation_cases"][0]
    body = json.dumps(
        {
            "payload": {"plainToken": case["plainToken"]},
            "event_ts": 1,
            "event": "endpoint.url_validation",
        }
    ).encode()
    response = service.post(body)
    assert response.status_code == 200
    assert response.json() == case["expected_response"]
    assert service.rows() == []


def test_url_validation_with_a_rotated_secret(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(webhook_secret_token=f"old-secret, {SECRET}")
    with serve(runtime) as svc:
        case = VECTORS["url_validation_cases"][0]
        body = json.dumps(
            {"event": "endpoint.url_validation", "payload": {"plainToken": case["plainToken"]}}
        ).encode()
        response = svc.post(body, signed_headers(body, secret=SECRET))
        assert response.json() == case["expected_response"]
        other = svc.post(body, signed_headers(body, secret="old-secret"))
        assert other.status_code == 200
        assert other.json()["encryptedToken"] != case["expected_response"]["encryptedToken"]


def test_an_unsigned_url_validation_gets_no_token(service: Service) -> None:
    body = b'{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}'
    response = service.post(body, {"content-type": "application/json"})
    assert response.status_code == 401
    assert "encryptedToken" not in response.text
    bad = signed_headers(body, secret="wrong")
    response = service.post(body, bad)
    assert response.status_code == 401
    assert "encryptedToken" not in response.text


def stale(body: bytes) -> dict[str, str]:
    return signed_headers(body, timestamp=int(time.time()) - 3 * 3600)


def future(body: bytes) -> dict[str, str]:
    return signed_headers(body, timestamp=int(time.time()) + 3600)


def one_byte_changed(body: bytes) -> dict[str, str]:
    return signed_headers(body.replace(b"u1", b"u2"))


@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [
        (lambda b: {}, "missing x-zm-signature"),
        (lambda b: signed_headers(b) | {"x-zm-signature": "v0=" + "0" * 64}, "does not match"),
        (lambda b: signed_headers(b, secret="another"), "does not match"),
        (
            lambda b: {k: v for k, v in signed_headers(b).items() if k != "x-zm-request-timestamp"},
            "missing",
        ),
        (lambda b: signed_headers(b) | {"x-zm-request-timestamp": "soon"}, "not a Unix time"),
        (one_byte_changed, "does not match"),
        (stale, "too old"),
        (future, "in the future"),
    ],
    ids=[
        "unsigned",
        "zeros",
        "other-secret",
        "no-timestamp",
        "bad-timestamp",
        "body-changed",
        "stale",
        "future",
    ],
)
def test_unverifiable_requests_get_401_and_store_nothing(
    service: Service, make_headers: Any, reason: str
) -> None:
    body = joined("u1")
    response = service.post(body, make_headers(body))
    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert service.rows() == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1,2]", "not a JSON object"),
        (b'{"payload":{}}', "`event`"),
        (b'{"event":"meeting.started"}', "`payload`"),
        (b'{"event":"meeting.started","payload":[]}', "`payload`"),
        (b'{"event":"endpoint.url_validation","payload":{}}', "plainToken"),
    ],
    ids=["text", "binary", "array", "no-event", "no-payload", "payload-list", "no-plain-token"],
)
def test_signed_non_events_get_400_and_store_nothing(
    service: Service, body: bytes, reason: str
) -> None:
    response = service.post(body)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert service.rows() == []


def test_a_body_over_the_limit_gets_413(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(max_body_bytes=1024)
    with serve(runtime) as svc:
        body = event_body("meeting.started", {"pad": "x" * 2000}, event_ts=1)
        assert svc.post(body).status_code == 413

        def chunks() -> Iterator[bytes]:  # no content-length: the limit holds while streaming
            yield body[:600]
            yield body[600:]

        response = svc.client.post(URL, content=chunks(), headers=signed_headers(body))
        assert response.status_code == 413
        assert svc.post(event_body("meeting.started", {}, event_ts=1)).status_code == 200
        assert len(svc.rows()) == 1


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405(service: Service, method: str) -> None:
    response = service.client.request(method, URL)
    assert response.status_code == 405
    assert service.rows() == []


def test_an_unknown_path_gets_404(service: Service) -> None:
    assert service.client.post("/webhooks/zoomz", content=b"{}").status_code == 404


def test_an_unreachable_database_gets_503_so_zoom_retries(make_runtime: MakeRuntime) -> None:
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    runtime = make_runtime(database_url=dead, migrated=False)
    with serve(runtime) as svc:
        response = svc.post(joined("u1"))
        assert response.status_code == 503
        assert "inbox" in response.json()["error"]
        ready = svc.ops.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("unavailable")


def test_no_configured_secret_gets_503_not_401(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(webhook_secret_token=None)
    with serve(runtime) as svc:
        response = svc.post(joined("u1"))
        assert response.status_code == 503
        assert svc.rows() == []
        assert svc.ops.get("/readyz").json()["checks"]["webhook_secret"].startswith("unavailable")


def test_a_failed_enqueue_still_acknowledges_and_the_sweeper_catches_up(
    make_runtime: MakeRuntime, sqlite_url: str
) -> None:
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    runtime = make_runtime(broker_url=dead_broker)
    with serve(runtime) as svc:
        response = svc.post(joined("u1"))
        assert response.status_code == 200
        assert [r["status"] for r in svc.rows()] == ["received"]
        ready = svc.ops.get("/readyz")
        assert ready.status_code == 200  # still taking deliveries: the broker is advisory
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["broker"].startswith("unavailable")
    # The same inbox, a working broker: the sweeper finds the row and the worker finishes it.
    healthy = make_runtime(database_url=sqlite_url, sweep_after_seconds=0)
    healthy.start_workers()
    assert healthy.sweeper.sweep() == 1
    wait_until(lambda: healthy.inbox.counts() == {"done": 1})


def test_health_and_readiness(service: Service) -> None:
    assert service.client.get("/healthz").json() == {"status": "ok"}
    ready = service.ops.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "webhook_secret": "ok"}


def test_not_ready_while_the_webhook_port_is_not_open(make_runtime: MakeRuntime) -> None:
    """The ops port opens before the webhook port and outlives it: readiness must not send
    traffic to a port that is not listening yet, or any more."""
    serving = [False]
    probe = make_runtime().ops_server(0, "127.0.0.1", serving=lambda: serving[0])
    probe.start()
    try:
        early = httpx.get(probe.url + "/readyz", timeout=5)
        assert early.status_code == 503
        assert early.json()["checks"]["http"].startswith("unavailable: the webhook port")
        serving[0] = True
        ready = httpx.get(probe.url + "/readyz", timeout=5)
        assert (ready.status_code, ready.json()["checks"]["http"]) == (200, "ok")
    finally:
        probe.close()


def test_the_public_port_serves_no_metrics_and_no_readiness(service: Service) -> None:
    """Metrics carry account ids and cost queries; readiness names what is broken. Neither is
    for the internet: they are on the ops port only."""
    for path in ("/metrics", "/readyz", "/livez"):
        assert service.client.get(path).status_code == 404, path
    assert service.ops.get("/metrics").status_code == 200
    assert "zoomhooks_webhooks_received_total" in service.ops.get("/metrics").text


def test_rows_are_counted_by_sql(service: Service) -> None:
    for user in ("a", "b", "c"):
        service.post(joined(user))
    with service.runtime.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(webhook_events)).scalar_one()
    assert count == 3


@contextlib.contextmanager
def inbox_locked(runtime: Runtime, database_url: str) -> Iterator[None]:
    """Another process holds the inbox's write lock (SQLite) or an exclusive table lock."""
    if database_url.startswith("sqlite"):
        import sqlite3

        path = runtime.engine.url.database
        assert path is not None
        lite = sqlite3.connect(path, isolation_level=None)
        lite.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lite.execute("ROLLBACK")
            lite.close()
        return
    import psycopg

    dsn = runtime.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        conn.execute("LOCK TABLE webhook_events IN EXCLUSIVE MODE")
        yield
        conn.rollback()


def test_a_stalled_commit_is_answered_503_within_the_deadline_and_lands_later(
    service: Service, database_url: str
) -> None:
    """Zoom waits 3 s and retries a 5xx: a delivery whose commit cannot happen gets 503 well
    before that (not a 60 s pool time-out), and the row still lands once the lock is gone, so
    Zoom's retry is a duplicate."""
    body = event_body("meeting.started", {"id": "7", "uuid": "stall=="}, event_ts=7)
    with inbox_locked(service.runtime, database_url):
        started = time.monotonic()
        response = service.post(body)
        took = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert 1.5 <= took <= 2.9
    wait_until(lambda: len(service.rows()) == 1, timeout=15)
    retry = service.post(body)
    assert retry.status_code == 200 and retry.json()["status"] == "duplicate"
