"""The envelope of a Zoom webhook: `{"event": str, "event_ts": int, "payload": {...}}`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

URL_VALIDATION = "endpoint.url_validation"
#: Longest event name stored; Zoom's are < 60 characters.
MAX_EVENT_NAME_LENGTH = 100
#: Deepest nesting accepted. Zoom's events nest about 5 levels; the limit keeps every later
#: recursive walk (dedupe, shaping) far from Python's recursion limit.
MAX_DEPTH = 64


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
    #: `body` decoded (strict UTF-8, so encoding it again gives the same bytes).
    text: str

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
    except (ValueError, RecursionError):  # ValueError: also integers past Python's digit limit
        raise EventError("body is not JSON") from None
    if not isinstance(data, dict):
        raise EventError("body is not a JSON object")
    # Nesting is at most the number of containers, each opened by a bracket: most events
    # have too few for the walk to be needed.
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth(data) > MAX_DEPTH:
        raise EventError(f"body nests deeper than {MAX_DEPTH} levels")
    name = data.get("event")
    if not isinstance(name, str) or not name.strip():
        raise EventError("`event` is missing or not a string")
    if len(name) > MAX_EVENT_NAME_LENGTH:
        raise EventError("`event` is too long")
    if not _storable(name):
        raise EventError("`event` holds a NUL or an unpaired surrogate")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise EventError("`payload` is missing or not an object")
    event_ts = data.get("event_ts")
    if event_ts is not None and (type(event_ts) is not int or not 0 <= event_ts < 2**63):
        raise EventError("`event_ts` is not a whole number of milliseconds")
    account_id = payload.get("account_id")
    if isinstance(account_id, str) and not _storable(account_id):
        raise EventError("`payload.account_id` holds a NUL or an unpaired surrogate")
    return Event(
        name=name,
        event_ts=event_ts,
        account_id=account_id if isinstance(account_id, str) and account_id else None,
        payload=payload,
        data=data,
        body=body,
        text=text,
    )


def _depth(root: Any) -> int:
    """Nesting depth, walked level by level over containers only (no recursion to exhaust)."""
    depth, level = 0, [root]
    while level and depth <= MAX_DEPTH:
        depth += 1
        children: list[Any] = []
        for node in level:
            values = node.values() if isinstance(node, dict) else node
            children.extend(v for v in values if isinstance(v, dict | list))
        level = children
    return depth


def _storable(text: str) -> bool:
    """Text every database takes: no NUL (PostgreSQL refuses it), no lone surrogate (not UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def plain_token(event: Event) -> str:
    """The challenge of an `endpoint.url_validation` event."""
    token = event.payload.get("plainToken")
    if not isinstance(token, str) or not token:
        raise EventError("`payload.plainToken` is missing or not a string")
    return token
