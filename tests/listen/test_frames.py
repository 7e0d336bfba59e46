"""Zoom's WebSocket frames, one test per fixture frame, and events stored as webhooks are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.listen import frames
from service.listen.frames import (
    EventFrame,
    FrameError,
    HeartbeatAnswer,
    Other,
    Refused,
    TokenRejected,
)
from service.processing.ingest import Ingestor
from service.storage.inbox import NewEvent
from tests.support import FIXTURES, SECRET, compact, signed_headers, webhook_fixtures

FRAMES = FIXTURES / "websocket"


def frame(name: str) -> str:
    return (FRAMES / name).read_text(encoding="utf-8").strip()


def test_the_heartbeat_sent_is_zooms() -> None:
    assert json.loads(frames.HEARTBEAT_FRAME) == {"module": "heartbeat"}


def test_a_heartbeat_answer() -> None:
    assert frames.parse(frame("heartbeat.answer.json")) == HeartbeatAnswer()


def test_a_message_holds_the_webhook_body_as_a_json_string() -> None:
    parsed = frames.parse(frame("message.webinar.ended.json"))
    assert isinstance(parsed, EventFrame)
    assert parsed.event.name == "webinar.ended"
    assert parsed.event.account_id == "AAAAAABBBB"
    assert parsed.event.event_ts == 1626230691572
    # Stored exactly as the content string came, as a webhook body is.
    assert parsed.event.text == json.loads(frame("message.webinar.ended.json"))["content"]


def test_a_message_whose_content_is_an_object_is_accepted() -> None:
    parsed = frames.parse(frame("message.object-content.json").encode())
    assert isinstance(parsed, EventFrame)
    assert parsed.event.name == "meeting.started"
    assert (
        json.loads(parsed.event.text) == json.loads(frame("message.object-content.json"))["content"]
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("heartbeat.invalid-token.json", "Invalid Token"),
        ("build_connection.token-is-invalid.json", "Token is invalid"),
    ],
)
def test_a_token_rejection_asks_for_a_fresh_token(name: str, reason: str) -> None:
    assert frames.parse(frame(name)) == TokenRejected(reason)


def test_another_refusal_names_its_module_and_reason() -> None:
    assert frames.parse(frame("build_connection.refused.json")) == Refused(
        "build_connection", "Subscription does not exist"
    )


def test_a_module_we_do_not_act_on_is_other() -> None:
    assert frames.parse(frame("build_connection.ok.json")) == Other("build_connection")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"success": true}', "no module"),
        ('{"module": ""}', "no module"),
        ('{"module": "message", "content": 5}', "neither a JSON string nor an object"),
        ('{"module": "message", "content": "{\\"event\\": 1}"}', "`event` is missing"),
        ('{"module": "message", "content": "nope"}', "body is not JSON"),
        ('{"module": "message", "content": "\\ud800"}', "unpaired surrogate"),
        (
            json.dumps(
                {
                    "module": "message",
                    "content": json.dumps(
                        {"event": "endpoint.url_validation", "payload": {"plainToken": "x"}}
                    ),
                }
            ),
            "webhook endpoints",
        ),
    ],
)
def test_a_bad_frame_is_refused_with_a_clear_error(raw: str | bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        frames.parse(raw)


def test_an_error_quotes_a_long_frame_only_in_part() -> None:
    with pytest.raises(FrameError) as caught:
        frames.parse("x" * 10_000)
    assert len(str(caught.value)) < frames.QUOTE_LENGTH + 50


def webhook_row(body: bytes) -> NewEvent:
    ingestor = Ingestor(
        secrets=[SECRET.encode()],
        inbox=None,  # type: ignore[arg-type]  # prepare() stores nothing
        enqueue=lambda _id: None,
        timestamp_tolerance_seconds=300,
        future_skew_seconds=300,
        app="default",
    )
    prepared = ingestor.prepare(body, signed_headers(body))
    assert isinstance(prepared, NewEvent)
    return prepared


@pytest.mark.parametrize(
    "path",
    [p for p in webhook_fixtures() if p.stem != "endpoint.url_validation"],
    ids=lambda p: p.stem,
)
def test_each_event_over_the_socket_is_the_row_its_webhook_would_be(path: Path) -> None:
    body = compact(path)
    for content in (body.decode(), json.loads(body)):
        parsed = frames.parse(
            json.dumps({"module": "message", "success": True, "content": content})
        )
        assert isinstance(parsed, EventFrame)
        row = frames.new_event(parsed.event, app="default")
        webhook = webhook_row(body)
        # Same dedupe key: received both ways, it is one row.
        assert row.dedupe_key == webhook.dedupe_key
        assert (row.event, row.event_ts, row.account_id, row.instance_uuid) == (
            webhook.event,
            webhook.event_ts,
            webhook.account_id,
            webhook.instance_uuid,
        )
        assert row.transport == "websocket" and webhook.transport == "webhook"
        assert row.request_timestamp is None and row.zm_trackingid is None
        assert json.loads(row.body) == json.loads(body)
