"""`FakeZoom`: the world, the faults, the tokens and the request log behind one Starlette app.

Endpoints (paths as Zoom's: the OAuth host and the API host are the fake's one host):

- `POST /oauth/token` — Server-to-Server OAuth (`grant_type=account_credentials`, `account_id`,
  HTTP Basic client credentials), parameters in the query string or a form body.
- `GET /v2/past_webinars/{webinarId}/participants|absentees|qa|polls|instances` and
  `GET /v2/past_meetings/{meetingId}[/participants|qa|polls|instances]`; other operations of the
  spec answer 501, paths outside it 400 (see `spec.py`).
- `/_fake/...` — the control API (`control.py`).

Every response carries `x-zm-trackingid`; API responses also `X-RateLimit-Category`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors
from .errors import Kind, ZoomError
from .faults import Faults, render
from .handlers import PastData
from .log import OAUTH_OPERATION, RequestLog, RequestRecord
from .oauth import check_token_request, token_body
from .spec import API_PREFIX, Match, Operation, Spec, SpecViolation
from .tokens import DEFAULT_PAGE_TOKEN_TTL, DEFAULT_TOKEN_LIFETIME, AccessTokens, Clock, PageTokens
from .world import World

DEFAULT_CLIENT_ID = "fakezoom-client-id"
DEFAULT_CLIENT_SECRET = "fakezoom-client-secret"  # noqa: S105 - a fixture, not a secret.
DEFAULT_ACCOUNT_ID = "fakezoom-account-id"
DEFAULT_SCOPES = ("meeting:read:admin", "webinar:read:admin", "report:read:admin")
JSON_MEDIA_TYPE = "application/json;charset=UTF-8"
TRACKING_ID_KEY = "fakezoom.tracking_id"


def json_response(
    status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None
) -> Response:
    if isinstance(body, str):
        return Response(body, status, headers, media_type="text/html")
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status, headers, media_type=JSON_MEDIA_TYPE)


class _TrackingId:
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


class FakeZoom:
    """A fake Zoom: `app` is the ASGI app; the other attributes are for tests to drive and read."""

    def __init__(
        self,
        world: World | None = None,
        faults: Faults | None = None,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        account_id: str = DEFAULT_ACCOUNT_ID,
        scopes: Sequence[str] = DEFAULT_SCOPES,
        token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        page_token_ttl: float = DEFAULT_PAGE_TOKEN_TTL,
        single_active_token: bool = False,
        clock: Clock = time.monotonic,
        spec: Spec | None = None,
    ) -> None:
        self.world = world if world is not None else World()
        self.faults = faults if faults is not None else Faults()
        self.client_id = client_id
        self.client_secret = client_secret
        self.account_id = account_id
        self.scopes = tuple(scopes)
        self.clock = clock
        self.spec = spec or Spec.load()
        self.access_tokens = AccessTokens(
            lifetime=token_lifetime, single_active=single_active_token, clock=clock
        )
        self.page_tokens = PageTokens(ttl=page_token_ttl, clock=clock)
        self.log = RequestLog()
        self.past_data = PastData(self.world, self.page_tokens)
        self.app = self._build_app()

    # -- what tests read and drive ------------------------------------------------------------

    @property
    def tokens_issued(self) -> int:
        """Access tokens issued so far (N workers sharing a token cache should make this 1)."""
        return self.access_tokens.issued

    def calls(self, operation_id: str | None = None, status: int | None = None) -> int:
        """Requests to an operation (e.g. `listWebinarParticipants`), optionally by status."""
        return self.log.calls(operation_id, status)

    def issue_token(self) -> str:
        """A valid bearer token, without going through `/oauth/token` (counts as an issuance)."""
        return self.access_tokens.issue().value

    def reset(self) -> None:
        """Forget requests, faults, access and page tokens (the world stays)."""
        self.log.clear()
        self.faults.clear()
        self.access_tokens.reset()
        self.page_tokens.expire_all()

    def _build_app(self) -> Starlette:
        from .control import control_routes  # control needs FakeZoom; import late.

        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        app = Starlette(
            routes=[
                Route("/oauth/token", self._oauth, methods=["POST"]),
                Route(API_PREFIX + "/{rest:path}", self._api, methods=methods),
                Mount("/_fake", routes=control_routes(self)),
            ],
            middleware=[Middleware(_TrackingId)],
        )
        app.state.fakezoom = self
        return app

    # -- plumbing -----------------------------------------------------------------------------

    def _record(
        self,
        request: Request,
        at: float,
        status: int,
        body: dict[str, Any] | str,
        match: Match | Operation | None,
        **kw: Any,
    ) -> None:
        op = match.operation if isinstance(match, Match) else match
        raw_path = request.scope.get("raw_path")
        self.log.add(
            RequestRecord(
                method=request.method,
                raw_path=raw_path.decode("latin-1") if raw_path else quote(request.url.path),
                query=request.scope["query_string"].decode("latin-1"),
                operation_id=kw.get("operation_id", op.operation_id if op else None),
                template=op.template if op else kw.get("template"),
                category=op.category if op else None,
                status=status,
                code=body.get("code") if isinstance(body, dict) and status >= 400 else None,
                fault=kw.get("fault"),
                tracking_id=request.scope.get(TRACKING_ID_KEY, ""),
                at=at,
            )
        )

    async def _api(self, request: Request) -> Response:
        at = self.clock()
        raw = request.scope.get("raw_path")
        raw_path = raw.decode("latin-1") if raw else quote(request.url.path)
        try:
            match = self.spec.route(
                request.method, raw_path, request.scope["query_string"].decode("latin-1")
            )
        except SpecViolation as violation:
            status, body = errors.spec_violation(violation.message, **violation.detail)
            self._record(request, at, status, body, violation.operation)
            return json_response(status, body)
        op = match.operation
        headers = {"X-RateLimit-Category": op.category}
        handler = self.past_data.handler(op.operation_id)
        if handler is None:
            message = f"fakezoom: {op.method} {op.template} ({op.operation_id}) is not implemented"
            body = {"code": errors.NOT_IMPLEMENTED_CODE, "message": message}
            self._record(request, at, 501, body, match)
            return json_response(501, body, headers)
        token_error = self._check_bearer(request.headers.get("authorization", ""))
        if token_error is not None:
            self._record(request, at, token_error.status, token_error.body(), match)
            return json_response(token_error.status, token_error.body(), headers)
        selection = self.faults.select(
            request.url.path,
            API_PREFIX + op.template,
            has_page_token=bool(match.query.get("next_page_token")),
        )
        if selection.delay:
            await asyncio.sleep(selection.delay)
        fault = selection.answer
        if fault is not None:
            kind: Kind = "webinar" if op.template.startswith("/past_webinars") else "meeting"
            out = render(
                fault,
                kind=kind,
                category=op.category,
                scopes=", ".join(op.scopes),
                account_id=self.account_id,
            )
            self._record(request, at, out.status, out.body, match, fault=fault.kind.value)
            return json_response(out.status, out.body, headers | out.headers)
        status, body = handler(match)
        self._record(request, at, status, body, match, fault="slow" if selection.delay else None)
        return json_response(status, body, headers)

    def _check_bearer(self, header: str) -> ZoomError | None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return errors.INVALID_ACCESS_TOKEN
        state = self.access_tokens.check(value.strip())
        if state == "valid":
            return None
        return errors.EXPIRED_ACCESS_TOKEN if state == "expired" else errors.INVALID_ACCESS_TOKEN

    async def _oauth(self, request: Request) -> Response:
        at = self.clock()
        params = dict(request.query_params)
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            # Parsed by hand: Starlette's form parser needs python-multipart.
            params |= dict(parse_qsl((await request.body()).decode("latin-1")))
        status, reply = check_token_request(
            request.headers.get("authorization", ""),
            params,
            client_id=self.client_id,
            client_secret=self.client_secret,
            account_id=self.account_id,
        )
        body: dict[str, Any] | str = reply
        selection = self.faults.select("/oauth/token", "/oauth/token", has_page_token=False)
        if selection.delay:
            await asyncio.sleep(selection.delay)
        fault_name = None
        if selection.answer is not None:
            out = render(
                selection.answer, kind=None, category="Light", scopes="", account_id=self.account_id
            )
            status, body, fault_name = out.status, out.body, selection.answer.kind.value
        elif status == 200:
            token = self.access_tokens.issue()
            api_url = str(request.base_url).rstrip("/")
            body = token_body(token, self.access_tokens.lifetime, self.scopes, api_url)
        self._record(
            request,
            at,
            status,
            body,
            None,
            operation_id=OAUTH_OPERATION,
            template="/oauth/token",
            fault=fault_name,
        )
        return json_response(status, body)


def create_app(
    world: World | None = None, faults: Faults | None = None, **options: Any
) -> Starlette:
    """A fake Zoom app; its `FakeZoom` is `app.state.fakezoom`. `options`: see `FakeZoom`."""
    return FakeZoom(world, faults, **options).app
