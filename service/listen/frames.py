"""Zoom's WebSocket frames, `{"module": str, "success": bool, "content": ...}`. Pure.

- `{"module": "heartbeat"}` is what the client sends; Zoom answers with the same module and
  `"success": true`, or `"success": false` and a reason (e.g. "Invalid Token").
- `{"module": "message", "content": "<JSON text>"}` carries one event: the content is the
  webhook body as a JSON string (an object is accepted too). It is stored like a webhook,
  with the same dedupe key, so one event received both ways is one row.
- Any frame with `"success": false` whose content says the token is invalid or expired asks
  for a fresh token. No frame is signed: the socket itself is authenticated by the token.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from service.storage.inbox import NewEvent
from service.webhooks import events
from service.webhooks.dedupe import dedupe_key

HEARTBEAT = "heartbeat"
MESSAGE = "message"
#: Longest account id stored (the inbox column's width).
MAX_ACCOUNT_ID_LENGTH = 64
#: How much of a frame an error message quotes (characters).
QUOTE_LENGTH = 200
_TOKEN_REJECTED = re.compile(r"invalid token|token is invalid|token (has )?expired", re.I)

#: The heartbeat the client sends.
HEARTBEAT_FRAME = json.dumps({"module": HEARTBEAT}, separators=(",", ":"))


class FrameError(ValueError):
    """A frame that is not Zoom's shape, or a message that holds no event."""


@dataclass(frozen=True, slots=True)
class HeartbeatAnswer:
    """Zoom answered a heartbeat: the connection works."""


@dataclass(frozen=True, slots=True)
class EventFrame:
    event: events.Event


@dataclass(frozen=True, slots=True)
class TokenRejected:
    """Zoom no longer accepts the connection's access token (even if the socket stays open)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Refused:
    """`"success": false` for another reason (e.g. an unknown subscription)."""

    module: str
    reason: str


@dataclass(frozen=True, slots=True)
class Other:
    """A module we do not act on (e.g. Zoom's connection notice); it still shows life."""

    module: str


Frame = HeartbeatAnswer | EventFrame | TokenRejected | Refused | Other


def parse(raw: str | bytes) -> Frame:
    """Decode one frame. Raises FrameError, quoting the frame, for anything else."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FrameError(f"frame is not JSON: {_quote(raw)}") from None
    if not isinstance(data, dict):
        raise FrameError(f"frame is not a JSON object: {_quote(raw)}")
    module = data.get("module")
    if not isinstance(module, str) or not module:
        raise FrameError(f"frame has no module: {_quote(raw)}")
    if data.get("success") is False:
        reason = _reason(data.get("content"))
        if _TOKEN_REJECTED.search(reason):
            return TokenRejected(reason)
        return Refused(module, reason)
    if module == HEARTBEAT:
        return HeartbeatAnswer()
    if module == MESSAGE:
        return EventFrame(_event(data.get("content")))
    return Other(module)


def _event(content: Any) -> events.Event:
    if isinstance(content, dict):
        content = json.dumps(content, separators=(",", ":"), ensure_ascii=False)
    if not isinstance(content, str):
        raise FrameError("message frame: content is neither a JSON string nor an object")
    try:
        body = content.encode("utf-8")
    except UnicodeEncodeError:
        raise FrameError("message frame: content holds an unpaired surrogate") from None
    try:
        event = events.parse(body)
    except events.EventError as exc:
        raise FrameError(f"message frame: {exc}: {_quote(content)}") from None
    if event.name == events.URL_VALIDATION:
        raise FrameError("message frame: endpoint.url_validation is for webhook endpoints")
    return event


def new_event(event: events.Event, *, app: str) -> NewEvent:
    """The inbox row for an event that came over `app`'s subscription: as a webhook's, with
    the same dedupe key, and no request timestamp or tracking headers (a frame has none)."""
    uuid = event.object.get("uuid")
    return NewEvent(
        event=event.name,
        event_ts=event.event_ts,
        account_id=event.account_id[:MAX_ACCOUNT_ID_LENGTH] if event.account_id else None,
        dedupe_key=dedupe_key(event.data),
        body=event.text,
        app=app,
        instance_uuid=uuid if isinstance(uuid, str) else None,
        transport="websocket",
    )


def _reason(content: Any) -> str:
    if isinstance(content, str):
        return content[:QUOTE_LENGTH]
    if content is None:
        return "(no reason given)"
    return json.dumps(content, ensure_ascii=False)[:QUOTE_LENGTH]


def _quote(raw: str | bytes) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return repr(text[:QUOTE_LENGTH] + ("…" if len(text) > QUOTE_LENGTH else ""))
