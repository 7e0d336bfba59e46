"""The Starlette application, built from parts handed in (no globals)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service import metrics
from service.processing.ingest import Ingestor
from service.web.fastpath import FastPath, WebhookApp
from service.web.webhooks import WebhookEndpoint, error, rejected

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/zoom"

#: A named check for /readyz; it raises when its dependency is not usable.
Check = Callable[[], None]


class NotReady(Exception):
    """A check's own verdict; its message is shown. Other errors show only their type, since
    a driver's message may carry host names or worse."""


def create_app(
    ingestor: Ingestor,
    *,
    apps: Mapping[str, Ingestor] | None = None,
    max_body_bytes: int,
    checks: dict[str, Check],
    collectors: Sequence[Collector] = (),
    advisory: Collection[str] = (),
) -> Starlette:
    """`ingestor` serves the bare webhook path; `apps` serve `/webhooks/zoom/{name}` each.
    `advisory` checks are reported by /readyz but do not make it fail."""
    endpoints = {
        name: WebhookEndpoint(app, max_body_bytes=max_body_bytes)
        for name, app in (apps or {}).items()
    }

    async def app_webhook(request: Request) -> Response:
        endpoint = endpoints.get(request.path_params["app"])
        if endpoint is None:
            # A URL nobody configured: Zoom's URL validation fails at once, so the operator
            # sees it while setting the app up.
            return rejected(404, "unknown_app", "no Zoom app is configured at this path")
        return await endpoint.handle(request)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await run_in_threadpool(check)
                results[name] = "ok"
            except NotReady as exc:
                results[name] = f"unavailable: {exc}"
            except Exception as exc:
                results[name] = f"unavailable: {type(exc).__name__}"
        ready = all(value == "ok" for name, value in results.items() if name not in advisory)
        degraded = ready and any(value != "ok" for value in results.values())
        status = "degraded" if degraded else "ready" if ready else "unavailable"
        return JSONResponse(
            {"status": status, "checks": results},
            status_code=200 if ready else 503,
        )

    async def metrics_endpoint(_request: Request) -> Response:
        body = await run_in_threadpool(metrics.exposition, *collectors)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = error(exc.status_code, exc.detail)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def server_error(_request: Request, exc: Exception) -> Response:
        log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
        return error(500, "internal error")

    bare = WebhookEndpoint(ingestor, max_body_bytes=max_body_bytes)
    app = WebhookApp(
        routes=[
            Route(WEBHOOK_PATH, bare.handle, methods=["POST"]),
            Route(WEBHOOK_PATH + "/{app}", app_webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    # The webhook routes above, served without Starlette's stack (the same answers).
    app.fast = FastPath(WEBHOOK_PATH, bare, endpoints)
    return app
