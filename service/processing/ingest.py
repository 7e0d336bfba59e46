"""Ingesting one delivery: verify, parse, dedupe, store, enqueue. HTTP-free."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from service.apps import DEFAULT_APP
from service.storage.inbox import Inbox, NewEvent
from service.webhooks import events, signature
from service.webhooks.dedupe import dedupe_key

log = logging.getLogger(__name__)

TRACKING_HEADER = "x-zm-trackingid"
REQUEST_ID_HEADER = "x-zm-request-id"
#: Longest header value kept on the inbox row (characters).
MAX_HEADER_LENGTH = 200


class NotConfigured(Exception):
    """No webhook secret is set: our fault, so Zoom should retry once it is fixed."""


class StorageUnavailable(Exception):
    """The inbox could not commit: Zoom must retry, so the caller answers 5xx."""


@dataclass(frozen=True, slots=True)
class Accepted:
    inbox_id: int
    duplicate: bool
    enqueued: bool
    event: str = ""


@dataclass(frozen=True, slots=True)
class Challenge:
    """A verified `endpoint.url_validation`: answer with `response`, store nothing."""

    response: dict[str, str]


class Ingestor:
    def __init__(
        self,
        *,
        secrets: Sequence[bytes],
        inbox: Inbox,
        enqueue: Callable[[int], None],
        timestamp_tolerance_seconds: int,
        future_skew_seconds: int,
        app: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`app` names the configured Zoom app whose endpoint this is (kept on each row)."""
        self.app = app
        self.secrets = tuple(secrets)
        self.inbox = inbox
        self.enqueue = enqueue
        self.tolerance = timestamp_tolerance_seconds
        self.skew = future_skew_seconds
        self.clock = clock

    def ingest(self, body: bytes, headers: Mapping[str, str]) -> Accepted | Challenge:
        """Raises SignatureError (401), EventError (400), NotConfigured/StorageUnavailable (503)."""
        if not self.secrets:
            raise NotConfigured(
                "ZOOM_WEBHOOK_SECRET_TOKEN is not set"
                if self.app in (None, DEFAULT_APP)
                else f"app {self.app!r} has no secret token"
            )
        verified = signature.verify(
            secrets=self.secrets,
            signature=headers.get(signature.SIGNATURE_HEADER),
            timestamp=headers.get(signature.TIMESTAMP_HEADER),
            body=body,
            now=self.clock(),
            tolerance_seconds=self.tolerance,
            future_skew_seconds=self.skew,
        )
        event = events.parse(body)
        if event.name == events.URL_VALIDATION:
            token = events.plain_token(event)
            return Challenge(signature.url_validation_response(verified.secret, token))
        new = NewEvent(
            event=event.name,
            event_ts=event.event_ts,
            account_id=event.account_id[:64] if event.account_id else None,
            dedupe_key=dedupe_key(event.data),
            body=event.text,
            request_timestamp=verified.timestamp,
            zm_trackingid=_header(headers, TRACKING_HEADER),
            zm_request_id=_header(headers, REQUEST_ID_HEADER),
            app=self.app,
        )
        try:
            recorded = self.inbox.record(new)
        except SQLAlchemyError as exc:
            log.error("inbox commit failed for %s: %s", event.name, type(exc).__name__)
            raise StorageUnavailable("the inbox is unavailable") from exc
        enqueued = False
        if not recorded.duplicate:
            try:
                self.enqueue(recorded.id)
                enqueued = True
            except Exception:
                # Committed is what counts: the sweeper will enqueue the row later.
                log.warning(
                    "enqueue of inbox %s failed; the sweeper will retry", recorded.id, exc_info=True
                )
        log.info(
            "webhook %s inbox=%s duplicate=%s",
            event.name,
            recorded.id,
            recorded.duplicate,
            extra={
                "inbox_id": recorded.id,
                "event": event.name,
                "instance_uuid": event.object.get("uuid"),
                "zm_trackingid": new.zm_trackingid,
            },
        )
        return Accepted(
            inbox_id=recorded.id, duplicate=recorded.duplicate, enqueued=enqueued, event=event.name
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value[:MAX_HEADER_LENGTH] if value else None
