"""The fake's HTTP plumbing: Zoom-style JSON responses and the `x-zm-trackingid` header."""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_MEDIA_TYPE = "application/json;charset=UTF-8"
TRACKING_ID_KEY = "fakezoom.tracking_id"


def json_response(
    status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None
) -> Response:
    if isinstance(body, str):
        return Response(body, status, headers, media_type="text/html")
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status, headers, media_type=JSON_MEDIA_TYPE)


class TrackingId:
    """Adds Zoom's `x-zm-trackingid` to every response, and exposes it to handlers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracking_id = f"v=2.0;clid=fake;rid=WEB_{secrets.token_hex(16)}"
        scope[TRACKING_ID_KEY] = tracking_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-zm-trackingid", tracking_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
