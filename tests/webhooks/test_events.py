"""Parsing the envelope: every fixture, and each way a signed body can fail to be an event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.webhooks.events import (
    MAX_DEPTH,
    MAX_EVENT_NAME_LENGTH,
    URL_VALIDATION,
    Event,
    EventError,
    parse,
    plain_token,
)
from tests.support import compact, real_captures, webhook_fixtures

#: Fixtures whose `payload.object.id` is a JSON number (PROVENANCE / README quirk).
NUMERIC_IDS = {
    "meeting.started",
    "recording.completed",
    "recording.transcript_completed",
    "webinar.registration_created",
}


def event_name(path: Path) -> str:
    """`meeting.started.json` and `2022-03-23.meeting.started.json` both name `meeting.started`."""
    stem = path.stem
    return stem.split(".", 1)[1] if stem[:4].isdigit() else stem


@pytest.mark.parametrize("path", webhook_fixtures(), ids=lambda p: p.stem)
def test_doc_fixture_parses(path: Path) -> None:
    body = compact(path)
    event = parse(body)
    raw = json.loads(body)
    assert event.name == event_name(path) == raw["event"]
    assert event.event_ts == raw["event_ts"]
    assert type(event.event_ts) is int
    assert event.body == body
    assert event.data == raw
    assert event.payload is event.data["payload"]
    if event.name == URL_VALIDATION:
        assert event.account_id is None
        assert plain_token(event) == raw["payload"]["plainToken"]
    else:
        assert event.account_id == raw["payload"]["account_id"]
        assert event.account_id
        assert event.object is event.payload["object"]


@pytest.mark.parametrize(
    "path", [p for p in webhook_fixtures() if p.stem != URL_VALIDATION], ids=lambda p: p.stem
)
def test_doc_fixture_numeric_or_string_object_id(path: Path) -> None:
    event = parse(compact(path))
    expected = int if event.name in NUMERIC_IDS else str
    assert type(event.object["id"]) is expected
    assert str(event.object["id"]) == "1234567890"


def test_real_captures_parse() -> None:
    parsed = {p.name: parse(compact(p)) for p in real_captures()}
    assert {e.name for e in parsed.values()} == {
        "meeting.started",
        "meeting.ended",
        "meeting.participant_joined",
        "meeting.participant_left",
    }
    for path in real_captures():
        event = parsed[path.name]
        assert event.name == event_name(path)
        assert event.account_id == "PX5yQAcnT5azdXF5ma2Apw"
        assert event.object["id"] == "86431910364"
    by_name = {e.name: e for e in parsed.values()}
    assert by_name["meeting.started"].event_ts == 1648038806658
    # `participant_left` arrived after `meeting.ended`: event_ts keeps Zoom's order, not ours.
    assert by_name["meeting.ended"].event_ts == 1648038819111
    assert by_name["meeting.participant_left"].event_ts == 1648038821536
    joined = by_name["meeting.participant_joined"]
    assert joined.object["participant"]["user_name"] == "Zoë Exämple"


def test_pretty_printed_and_compact_bodies_parse_alike() -> None:
    for path in webhook_fixtures() + real_captures():
        pretty = parse(path.read_bytes())
        tight = parse(compact(path))
        assert (pretty.name, pretty.event_ts, pretty.account_id, pretty.data) == (
            tight.name,
            tight.event_ts,
            tight.account_id,
            tight.data,
        )


def test_event_ts_is_optional() -> None:
    event = parse(b'{"event":"meeting.started","payload":{"account_id":"a"}}')
    assert event.event_ts is None
    assert event.account_id == "a"


@pytest.mark.parametrize("account_id", [None, "", 123, ["a"], {"a": 1}])
def test_account_id_other_than_non_empty_string_is_none(account_id: Any) -> None:
    body = json.dumps({"event": "x", "payload": {"account_id": account_id}}).encode()
    assert parse(body).account_id is None


@pytest.mark.parametrize("obj", [None, "x", 1, []])
def test_object_other_than_an_object_reads_as_empty(obj: Any) -> None:
    assert parse(json.dumps({"event": "x", "payload": {"object": obj}}).encode()).object == {}


def test_largest_event_ts_and_longest_name_accepted() -> None:
    name = "e" * MAX_EVENT_NAME_LENGTH
    event = parse(json.dumps({"event": name, "payload": {}, "event_ts": 2**63 - 1}).encode())
    assert (event.name, event.event_ts) == (name, 2**63 - 1)
    assert parse(json.dumps({"event": "x", "payload": {}, "event_ts": 0}).encode()).event_ts == 0


def test_parse_returns_an_event() -> None:
    assert isinstance(parse(b'{"event":"x","payload":{}}'), Event)


# --- errors --------------------------------------------------------------------------------

MISSING: Any = object()


def envelope(**fields: Any) -> bytes:
    data: dict[str, Any] = {"event": "meeting.started", "payload": {}, "event_ts": 1}
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not MISSING}).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"\xff\xfe{}", "not UTF-8", id="not-utf8"),
        pytest.param('{"event":"Zoë"}'.encode("latin-1"), "not UTF-8", id="latin-1"),
        pytest.param(b"\xed\xa0\x80", "not UTF-8", id="encoded-surrogate"),
        pytest.param(b"", "not JSON", id="empty"),
        pytest.param(b"{", "not JSON", id="truncated"),
        pytest.param(b"event=meeting.started", "not JSON", id="form-encoded"),
        pytest.param(b'{"event":"x","payload":{}} {}', "not JSON", id="trailing-data"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "not JSON", id="too-deep"),
        pytest.param(b"[]", "not a JSON object", id="array"),
        pytest.param(b'[{"event":"x","payload":{}}]', "not a JSON object", id="array-of-events"),
        pytest.param(b'"event"', "not a JSON object", id="string"),
        pytest.param(b"null", "not a JSON object", id="null"),
        pytest.param(b"42", "not a JSON object", id="number"),
        pytest.param(envelope(event=MISSING), "`event` is missing", id="event-missing"),
        pytest.param(envelope(event=None), "`event` is missing", id="event-null"),
        pytest.param(envelope(event=1), "`event` is missing", id="event-number"),
        pytest.param(envelope(event=["a"]), "`event` is missing", id="event-list"),
        pytest.param(envelope(event=""), "`event` is missing", id="event-empty"),
        pytest.param(envelope(event="  "), "`event` is missing", id="event-blank"),
        pytest.param(
            envelope(event="e" * (MAX_EVENT_NAME_LENGTH + 1)), "too long", id="event-too-long"
        ),
        pytest.param(envelope(payload=MISSING), "`payload` is missing", id="payload-missing"),
        pytest.param(envelope(payload=None), "`payload` is missing", id="payload-null"),
        pytest.param(envelope(payload=[]), "`payload` is missing", id="payload-list"),
        pytest.param(envelope(payload="{}"), "`payload` is missing", id="payload-string"),
        pytest.param(envelope(event_ts=True), "`event_ts`", id="event_ts-bool"),
        pytest.param(envelope(event_ts=False), "`event_ts`", id="event_ts-false"),
        pytest.param(envelope(event_ts=1.5), "`event_ts`", id="event_ts-float"),
        pytest.param(envelope(event_ts=1648038809439.0), "`event_ts`", id="event_ts-whole-float"),
        pytest.param(envelope(event_ts=-1), "`event_ts`", id="event_ts-negative"),
        pytest.param(envelope(event_ts="1648038809439"), "`event_ts`", id="event_ts-string"),
        pytest.param(envelope(event_ts=2**63), "`event_ts`", id="event_ts-overflow"),
        pytest.param(b'{"event":"x","payload":{},"event_ts":NaN}', "`event_ts`", id="ts-nan"),
    ],
)
def test_not_an_event(body: bytes, message: str) -> None:
    with pytest.raises(EventError, match=message):
        parse(body)


def test_event_error_is_a_value_error_with_a_safe_message() -> None:
    with pytest.raises(ValueError, match="body is not JSON") as info:
        parse(b"secret-looking garbage")
    assert "secret-looking" not in str(info.value)


# --- the URL-validation challenge ----------------------------------------------------------


def challenge(payload: dict[str, Any]) -> Event:
    return parse(json.dumps({"event": URL_VALIDATION, "payload": payload}).encode())


def test_plain_token_read() -> None:
    assert plain_token(challenge({"plainToken": "qgg8vlvZRS6UYooatFL8Aw"})) == (
        "qgg8vlvZRS6UYooatFL8Aw"
    )


@pytest.mark.parametrize(
    "payload",
    [{}, {"plainToken": None}, {"plainToken": ""}, {"plainToken": 1}, {"plainToken": ["a"]}],
    ids=["missing", "null", "empty", "number", "list"],
)
def test_plain_token_errors(payload: dict[str, Any]) -> None:
    with pytest.raises(EventError, match="plainToken"):
        plain_token(challenge(payload))


def test_plain_token_key_is_case_sensitive() -> None:
    with pytest.raises(EventError):
        plain_token(challenge({"plaintoken": "abc"}))


def test_integer_beyond_pythons_digit_limit_is_an_event_error() -> None:
    """`json.loads` raises a bare ValueError past 4300 digits; parse must not leak it."""
    body = b'{"event":"meeting.started","payload":{"n":' + b"1" * 5000 + b"}}"
    with pytest.raises(EventError):
        parse(body)


def nested(levels: int) -> list[Any]:
    inner: list[Any] = []
    for _ in range(levels - 1):
        inner = [inner]
    return inner


def test_nesting_up_to_the_limit_is_an_event_and_beyond_it_is_not() -> None:
    # The envelope and its payload are two levels.
    assert parse(envelope(payload={"deep": nested(MAX_DEPTH - 2)})).name == "meeting.started"
    with pytest.raises(EventError, match="nests deeper"):
        parse(envelope(payload={"deep": nested(MAX_DEPTH - 1)}))
    # Brackets in strings are no nesting, however many.
    shallow = envelope(payload={"topic": "[{" * MAX_DEPTH, "deep": nested(3)})
    assert parse(shallow).payload["topic"] == "[{" * MAX_DEPTH
