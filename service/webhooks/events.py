"""The envelope of a Zoom webhook: `{"event": str, "event_ts": int, "payload": {...}}`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

URL_VALIDATION = "endpoint.url_validation"
#: Longest event name stored; Zoom's are < 60 characters.
MAX_EVENT_NAME_LENGTH = 100


class EventError(ValueError):
    """The body is signed but is not a Zoom event. The message is safe to show the caller."""


@dataclass(frozen=True, slots=True)
class Event:
    """A parsed webhook. `body` keeps the exact bytes, `data` the decoded JSON."""

    name: str
    event_ts: int | None
    account_id: str | None
    payload: dict[str, Any]
    data: dict[str, Any]
    body: bytes

    @property
    def object(self) -> dict[str, Any]:
        obj = self.payload.get("object")
        return obj if isinstance(obj, dict) else {}


def parse(body: bytes) -> Event:
    """Decode and check the envelope. Raises `EventError` for anything that is not an event."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise EventError("body is not UTF-8") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise EventError("body is not JSON") from None
    if not isinstance(data, dict):
        raise EventError("body is not a JSON object")
    name = data.get("event")
    if not isinstance(name, str) or not name.strip():
        raise EventError("`event` is missing or not a string")
    if len(name) > MAX_EVENT_NAME_LENGTH:
        raise EventError("`event` is too long")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise EventError("`payload` is missing or not an object")
    event_ts = data.get("event_ts")
    if event_ts is not None and (type(event_ts) is not int or not 0 <= event_ts < 2**63):
        raise EventError("`event_ts` is not a whole number of milliseconds")
    account_id = payload.get("account_id")
    return Event(
        name=name,
        event_ts=event_ts,
        account_id=account_id if isinstance(account_id, str) and account_id else None,
        payload=payload,
        data=data,
        body=body,
    )


def plain_token(event: Event) -> str:
    """The challenge of an `endpoint.url_validation` event."""
    token = event.payload.get("plainToken")
    if not isinstance(token, str) or not token:
        raise EventError("`payload.plainToken` is missing or not a string")
    return token
