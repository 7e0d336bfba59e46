"""The public Starlette application, built from parts handed in (no globals): the webhook
paths and `/healthz`, nothing else. Metrics and readiness are on the ops port
(`service.probe`), which is not for the internet."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.processing.ingest import Ingestor
from service.web.fastpath import FastPath, WebhookApp
from service.web.webhooks import WebhookEndpoint, error, rejected

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/zoom"


def create_app(
    ingestor: Ingestor,
    *,
    apps: Mapping[str, Ingestor] | None = None,
    max_body_bytes: int,
) -> Starlette:
    """`ingestor` serves the bare webhook path; `apps` serve `/webhooks/zoom/{name}` each."""
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
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    # The webhook routes above, served without Starlette's stack (the same answers).
    app.fast = FastPath(WEBHOOK_PATH, bare, endpoints)
    return app
