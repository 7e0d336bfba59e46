"""`zoomhooks send`: a realistic, correctly signed Zoom delivery, like Stripe's `trigger`.

Bodies come from the bundled doc samples (`events/`) or a file, are compacted as Zoom sends
them, and get a current `event_ts`, so that each send is a new event rather than a redelivery.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from service.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

EVENTS = Path(__file__).parent / "events"
#: How long to wait for the endpoint (seconds); Zoom gives it 3.
DEFAULT_TIMEOUT = 10.0


def bundled() -> list[str]:
    """The event types a body is bundled for."""
    return sorted(p.stem for p in EVENTS.glob("*.json"))


@dataclass(frozen=True, slots=True)
class Delivery:
    body: bytes
    headers: dict[str, str]


def load(event_or_path: str) -> dict[str, Any]:
    """A bundled event by type (`webinar.ended`) or a JSON file by path."""
    path = EVENTS / f"{event_or_path}.json"
    if not path.is_file():
        path = Path(event_or_path)
    if not path.is_file():
        raise ValueError(
            f"no bundled event {event_or_path!r} and no such file; bundled: {', '.join(bundled())}"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise ValueError(f"{path} is not a Zoom event (no `event`)")
    return data


def delivery(data: dict[str, Any], *, secret: str, now: float | None = None) -> Delivery:
    """Compact JSON, a fresh `event_ts`, and Zoom's v0 signature over exactly those bytes."""
    moment = time.time() if now is None else now
    fresh = {**data, "event_ts": int(moment * 1000)}
    body = json.dumps(fresh, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    timestamp = str(int(moment))
    return Delivery(
        body=body,
        headers={
            "content-type": "application/json; charset=utf-8",
            "user-agent": "zoomhooks-send",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret.encode(), timestamp, body),
        },
    )


def post(url: str, sent: Delivery, *, timeout: float = DEFAULT_TIMEOUT) -> httpx.Response:
    return httpx.post(url, content=sent.body, headers=sent.headers, timeout=timeout)
