"""`POST /webhooks/zoom`: read the raw body under a limit, hand it to the ingestor, map the result.

Status codes follow Zoom's retry rules: it retries 5xx and time-outs, never 4xx. So a caller's
fault (bad signature, not an event) is 4xx, and anything on our side is 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive

from service import metrics
from service.processing.ingest import (
    Accepted,
    Challenge,
    Ingestor,
    NotConfigured,
    StorageUnavailable,
)
from service.webhooks.events import EventError
from service.webhooks.signature import SignatureError

log = logging.getLogger(__name__)

#: Bodies up to this size are verified and parsed on the event loop (bytes): for Zoom's usual
#: few KiB that costs less than a hop to the thread pool; larger ones take the hop.
INLINE_BODY_BYTES = 32 * 1024


class BodyTooLarge(Exception):
    pass


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The raw body from ASGI `receive`, as Starlette's `Request.stream` reads it.

    Raises BodyTooLarge past `limit` (or a declared length past it), ClientDisconnect."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk: bytes = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect


class WebhookEndpoint:
    def __init__(self, ingestor: Ingestor, *, max_body_bytes: int) -> None:
        self.ingestor = ingestor
        self.max_body_bytes = max_body_bytes

    async def handle(self, request: Request) -> Response:
        status, content = await self.answer(request.receive, request.headers)
        return JSONResponse(content, status_code=status)

    async def answer(
        self, receive: Receive, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """Read, verify, store: the status and JSON body of the answer. `headers` are the
        request's, names lowercase (the first of repeated ones, as Starlette's `get`)."""
        with metrics.INGEST_SECONDS.time():
            return await self._answer(receive, headers)

    async def _answer(
        self, receive: Receive, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        try:
            body = await read_body(receive, headers.get("content-length"), self.max_body_bytes)
        except BodyTooLarge:
            return refused(413, "too_large", f"body larger than {self.max_body_bytes} bytes")
        except ClientDisconnect:
            return refused(400, "not_an_event", "client disconnected before the body was read")
        try:
            result = await self._ingest(body, headers)
        except SignatureError as exc:
            log.info("webhook rejected: %s", exc.reason)
            return refused(401, "signature", exc.reason)
        except EventError as exc:
            log.info("webhook rejected: %s", exc)
            return refused(400, "not_an_event", str(exc))
        except NotConfigured as exc:
            return refused(503, "not_configured", str(exc))
        except StorageUnavailable as exc:
            return refused(503, "unavailable", str(exc))
        if isinstance(result, Accepted):
            counter = metrics.WEBHOOKS_DUPLICATE if result.duplicate else metrics.WEBHOOKS_RECEIVED
            counter.labels(event=result.event).inc()
            return 200, {
                "status": "duplicate" if result.duplicate else "accepted",
                "id": result.inbox_id,
            }
        return 200, dict(result.response)

    async def _ingest(self, body: bytes, headers: Mapping[str, str]) -> Accepted | Challenge:
        ingestor = self.ingestor
        if ingestor.writer is None:
            return await run_in_threadpool(ingestor.ingest, body, headers)
        if len(body) <= INLINE_BODY_BYTES:
            new = ingestor.prepare(body, headers)
        else:
            new = await run_in_threadpool(ingestor.prepare, body, headers)
        if isinstance(new, Challenge):
            return new
        return await ingestor.ingest_async(new)


def refused(status: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
    """Count a refused delivery; the status and JSON body of its answer."""
    metrics.WEBHOOKS_REJECTED.labels(reason=reason).inc()
    return status, {"error": message}


def rejected(status: int, reason: str, message: str) -> JSONResponse:
    status, content = refused(status, reason, message)
    return JSONResponse(content, status_code=status)
