"""`POST /webhooks/zoom[/{app}]` served straight from ASGI, ahead of Starlette's stack.

Every delivery used to pass Starlette's middleware (error handling, exceptions), its router
(each route's regex), and a Request and a JSONResponse object: about a fifth of the web
process's CPU per delivery (bench/ingest, py-spy). `WebhookApp` answers those two routes itself,
with the same endpoint code, status codes, headers and JSON bodies; anything else (other
methods, paths or a `root_path`) goes through Starlette as before.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from service.web.webhooks import WebhookEndpoint, refused

log = logging.getLogger(__name__)

_UNKNOWN_APP = (404, "unknown_app", "no Zoom app is configured at this path")
#: JSONResponse's rendering (json.dumps with these options builds an encoder per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


class FastPath:
    def __init__(
        self, path: str, bare: WebhookEndpoint, apps: Mapping[str, WebhookEndpoint]
    ) -> None:
        """`bare` serves `path`; `apps` serve `path/{name}` each."""
        self.path = path
        self.prefix = path + "/"
        self.bare = bare
        self.apps = dict(apps)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer the request if it is a delivery (True); False leaves it to Starlette."""
        if scope["method"] != "POST" or scope.get("root_path"):
            return False
        path: str = scope["path"]
        endpoint: WebhookEndpoint | None
        if path == self.path:
            endpoint = self.bare
        elif path.startswith(self.prefix) and len(path) > len(self.prefix):
            name = path[len(self.prefix) :]
            if "/" in name:
                return False  # Starlette's `{app}` matches one segment: its 404
            endpoint = self.apps.get(name)
        else:
            return False
        started = False

        async def tracking(message: Any) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            if endpoint is None:
                # A URL nobody configured: Zoom's URL validation fails at once.
                status, content = refused(*_UNKNOWN_APP)
            else:
                status, content = await endpoint.answer(receive, _headers(scope))
            await _json(tracking, status, content)
        except Exception as exc:
            # What Starlette's ServerErrorMiddleware and the app's handler do.
            log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
            if not started:
                await _json(send, 500, {"error": "internal error"})
            raise
        return True


class WebhookApp(Starlette):
    """Starlette, with deliveries answered by `fast` before its middleware and router."""

    fast: FastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast
        if fast is not None and scope["type"] == "http" and await fast.serve(scope, receive, send):
            return
        await super().__call__(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lowercase name, the first of repeated ones (as Starlette's
    `Headers.get`), decoded as latin-1."""
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        if key not in headers:
            headers[key] = value.decode("latin-1")
    return headers


async def _json(send: Send, status: int, content: dict[str, Any]) -> None:
    """What Starlette's JSONResponse sends: the same bytes and headers, in the same order."""
    body = _ENCODER.encode(content).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(body)).encode("latin-1")),
                (b"content-type", b"application/json"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
