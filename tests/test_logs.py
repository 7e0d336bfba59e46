"""Logs: JSON lines with context in production, and no secret in any line, ever."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from service import logs
from service.devtools.fakezoom import DEFAULT_ACCOUNT_ID, DEFAULT_CLIENT_ID, RunningFake
from service.devtools.send import delivery, load
from service.storage.models import zoom_tokens
from tests.conftest import MakeRuntime
from tests.support import event_body, signed_headers, start_serve, wait_until

WEBHOOK_SECRET = "whsec-Zy9-unique-value"
CLIENT_SECRET = "fakezoom-client-secret"  # the fake's default credential, used by the service
DB_PASSWORD = "db-Passw0rd-unique"


@pytest.fixture
def captured() -> logging.Logger:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JSONFormatter())
    handler.addFilter(logs.Redactor([WEBHOOK_SECRET]))
    logger = logging.getLogger(f"test.logs.{id(stream)}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.stream = stream  # type: ignore[attr-defined]
    return logger


def lines(logger: logging.Logger) -> list[dict[str, object]]:
    text = logger.stream.getvalue()  # type: ignore[attr-defined]
    return [json.loads(line) for line in text.splitlines()]


def test_a_json_line_carries_its_context(captured: logging.Logger) -> None:
    captured.info(
        "webhook %s",
        "meeting.started",
        extra={"inbox_id": 7, "event": "meeting.started", "zm_trackingid": "t1"},
    )
    (line,) = lines(captured)
    assert line["message"] == "webhook meeting.started"
    assert line["inbox_id"] == 7
    assert line["zm_trackingid"] == "t1"
    assert line["level"] == "info"
    assert "instance_uuid" not in line


@pytest.mark.parametrize(
    "text",
    [
        f"secret is {WEBHOOK_SECRET}",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
        "Authorization: Basic Y2xpZW50OnNlY3JldHZhbHVl",
        f"connect to postgresql+psycopg://zh:{DB_PASSWORD}@db:5432/zh failed",
        '{"access_token": "tok-abcdef123456", "expires_in": 3599}',
        "POST /oauth/token?client_secret=abcdef123&grant_type=x",
    ],
)
def test_secrets_are_redacted_in_messages_and_tracebacks(
    captured: logging.Logger, text: str
) -> None:
    captured.warning("%s", text)
    try:
        raise RuntimeError(text)
    except RuntimeError:
        captured.exception("failed")
    out = captured.stream.getvalue()  # type: ignore[attr-defined]
    for leaked in (
        WEBHOOK_SECRET,
        "eyJhbGciOiJIUzI1NiJ9",
        "Y2xpZW50OnNlY3JldHZhbHVl",
        DB_PASSWORD,
        "tok-abcdef123456",
        "abcdef123&",
    ):
        assert leaked not in out
    assert logs.REDACTED in out
    assert len(lines(captured)) == 2


@pytest.mark.slow
def test_a_running_service_logs_json_with_no_secret(
    tmp_path: Path, fake_zoom: RunningFake, postgres_url: str
) -> None:
    # The database URL carries a password (trust auth ignores it), so it must never show.
    url = postgres_url.replace("postgres@", f"postgres:{DB_PASSWORD}@")
    inst = fake_zoom.fake.world.add_webinar(
        1234567890,
        uuid="4444AAAiAAAAAiAiAiiAii==",
        participants=40,
        absentees=3,
        questions=2,
        polls=1,
    )
    fake_zoom.fake.faults.token_invalid("/v2/past_webinars/*/participants", count=1)
    service = start_serve(
        tmp_path,
        {
            "DATABASE_URL": url,
            "ZOOM_WEBHOOK_SECRET_TOKEN": f"{WEBHOOK_SECRET},second-secret-value",
            "ZOOM_ACCOUNT_ID": DEFAULT_ACCOUNT_ID,
            "ZOOM_CLIENT_ID": DEFAULT_CLIENT_ID,
            "ZOOM_CLIENT_SECRET": CLIENT_SECRET,
            "ZOOM_API_BASE_URL": fake_zoom.api_url,
            "ZOOM_OAUTH_URL": fake_zoom.oauth_url,
            "ZOOMHOOKS_FOLLOWUP_DELAY_SECONDS": "0",
            "ZOOMHOOKS_LOG_FORMAT": "json",
            "ZOOMHOOKS_LOG_LEVEL": "DEBUG",
        },
    )
    try:
        for event in ("webinar.started", "webinar.participant_joined", "webinar.ended"):
            sent = delivery(load(event), secret=WEBHOOK_SECRET)
            headers = {**sent.headers, "x-zm-trackingid": f"track-{event}"}
            response = httpx.post(
                f"{service.url}/webhooks/zoom", content=sent.body, headers=headers, timeout=5
            )
            assert response.status_code == 200
        bad = httpx.post(
            f"{service.url}/webhooks/zoom",
            content=b"{}",
            headers={"x-zm-signature": "v0=00", "x-zm-request-timestamp": "1"},
        )
        assert bad.status_code == 401
        wait_until(
            lambda: "/participants stored 40 rows" in service.log.read_text(),
            timeout=30,
            interval=0.2,
        )
    finally:
        service.stop()
    text = service.log.read_text(encoding="utf-8")
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        tokens = [t for t in conn.execute(select(zoom_tokens.c.access_token)).scalars() if t]
    engine.dispose()
    assert tokens
    for secret in (WEBHOOK_SECRET, "second-secret-value", CLIENT_SECRET, DB_PASSWORD, *tokens):
        assert secret not in text
    parsed = [json.loads(line) for line in text.splitlines() if line.strip()]
    webhook = [p for p in parsed if p.get("zm_trackingid") == "track-webinar.ended"]
    assert webhook
    assert webhook[0]["inbox_id"]
    assert webhook[0]["instance_uuid"] == inst.uuid
    jobs = [p for p in parsed if p.get("resource") == "participants"]
    assert any(p.get("followup_id") for p in jobs)


def test_rabbitmq_down_is_one_warning_not_a_page_of_pika_errors(
    make_runtime: MakeRuntime, capfd: pytest.CaptureFixture[str]
) -> None:
    runtime = make_runtime(broker_url="amqp://guest:guest@127.0.0.1:9/")  # nothing listens
    logs.configure("INFO", fmt="text")
    body = event_body("meeting.started", {"id": "1", "uuid": "down=="}, event_ts=1)
    accepted = runtime.ingestor.ingest(body, signed_headers(body))
    assert not accepted.enqueued  # type: ignore[union-attr]
    err = capfd.readouterr().err
    assert [line for line in err.splitlines() if " ERROR " in line] == []
    warnings = [line for line in err.splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and "the sweeper will retry" in warnings[0], err
