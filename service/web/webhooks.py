"""`POST /webhooks/zoom`: read the raw body under a limit, hand it to the ingestor, map the result.

Status codes follow Zoom's retry rules: it retries 5xx and time-outs, never 4xx. So a caller's
fault (bad signature, not an event) is 4xx, and anything on our side is 5xx.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

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


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class WebhookEndpoint:
    def __init__(self, ingestor: Ingestor, *, max_body_bytes: int) -> None:
        self.ingestor = ingestor
        self.max_body_bytes = max_body_bytes

    async def handle(self, request: Request) -> Response:
        with metrics.INGEST_SECONDS.time():
            return await self._handle(request)

    async def _handle(self, request: Request) -> Response:
        try:
            body = await read_body(request, self.max_body_bytes)
        except BodyTooLarge:
            return rejected(413, "too_large", f"body larger than {self.max_body_bytes} bytes")
        except ClientDisconnect:
            return rejected(400, "not_an_event", "client disconnected before the body was read")
        try:
            result = await self._ingest(body, request)
        except SignatureError as exc:
            log.info("webhook rejected: %s", exc.reason)
            return rejected(401, "signature", exc.reason)
        except EventError as exc:
            log.info("webhook rejected: %s", exc)
            return rejected(400, "not_an_event", str(exc))
        except NotConfigured as exc:
            return rejected(503, "not_configured", str(exc))
        except StorageUnavailable as exc:
            return rejected(503, "unavailable", str(exc))
        if isinstance(result, Accepted):
            counter = metrics.WEBHOOKS_DUPLICATE if result.duplicate else metrics.WEBHOOKS_RECEIVED
            counter.labels(event=result.event).inc()
            return JSONResponse(
                {"status": "duplicate" if result.duplicate else "accepted", "id": result.inbox_id}
            )
        return JSONResponse(result.response)

    async def _ingest(self, body: bytes, request: Request) -> Accepted | Challenge:
        ingestor = self.ingestor
        if ingestor.writer is None:
            return await run_in_threadpool(ingestor.ingest, body, request.headers)
        if len(body) <= INLINE_BODY_BYTES:
            new = ingestor.prepare(body, request.headers)
        else:
            new = await run_in_threadpool(ingestor.prepare, body, request.headers)
        if isinstance(new, Challenge):
            return new
        return await ingestor.ingest_async(new)


def rejected(status: int, reason: str, message: str) -> JSONResponse:
    metrics.WEBHOOKS_REJECTED.labels(reason=reason).inc()
    return error(status, message)
