"""`FakeZoom`: the world, the faults, the tokens and the request log behind one Starlette app.

Endpoints (paths as Zoom's: the OAuth host and the API host are the fake's one host):

- `POST /oauth/token` — Server-to-Server OAuth (`grant_type=account_credentials`, `account_id`,
  HTTP Basic client credentials), parameters in the query string or a form body. Any account
  the fake knows (`FakeZoom.accounts`) can get tokens with its own app's credentials.
- `GET /v2/past_webinars/{webinarId}/participants|absentees|qa|polls|instances`,
  `GET /v2/past_meetings/{meetingId}[/participants|qa|polls|instances]`,
  `GET /v2/webinars/{webinarId}/registrants` and
  `GET /v2/report/webinars|meetings/{id}[/participants]` (`handlers.py`),
  `GET /v2/meetings/{meetingId}/recordings` (a meeting's or webinar's, `recordings.py`),
  `PUT /v2/webinars/{webinarId}/registrants/status` and `PATCH /v2/meetings/{meetingId}`
  (`writes.py`, bodies validated against the spec); other operations of the
  spec answer 501, paths outside it 400 (see `spec.py`).
- `GET /rec/download/{fileId}` — recording file downloads, a webhook's `download_url`
  (`recfiles.py`: `?access_token=<download_token>` or an OAuth bearer, Range requests).
- `/ws?subscriptionId=...&access_token=...` — WebSocket event subscriptions (`sockets.py`).
- `/_fake/...` — the control API (`control.py`).

Every response carries `x-zm-trackingid`; API responses also `X-RateLimit-Category`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute

from . import errors
from .errors import Kind
from .faults import Faults, render
from .handlers import Handler, PastData
from .log import OAUTH_OPERATION, RequestLog, RequestRecord
from .oauth import FakeAccount, check_bearer, check_token_request, index_accounts, token_body
from .recfiles import DOWNLOAD_PREFIX, RecordingFiles
from .recordings import RecordingsAPI
from .responses import TRACKING_ID_KEY, TrackingId, json_response
from .sockets import FakeSockets
from .spec import API_PREFIX, Match, Operation, Spec, SpecViolation
from .tokens import DEFAULT_PAGE_TOKEN_TTL, DEFAULT_TOKEN_LIFETIME, AccessTokens, Clock, PageTokens
from .world import World
from .writes import Writes

DEFAULT_CLIENT_ID = "fakezoom-client-id"
DEFAULT_CLIENT_SECRET = "fakezoom-client-secret"  # noqa: S105 - a fixture, not a secret.
DEFAULT_ACCOUNT_ID = "fakezoom-account-id"
DEFAULT_SCOPES = (
    "meeting:read:admin",
    "webinar:read:admin",
    "report:read:admin",
    "recording:read:admin",
)
#: The one operation whose answer names the fake's own host (the files' `download_url`).
RECORDINGS_OPERATION = "recordingGet"


class FakeZoom:
    """A fake Zoom: `app` is the ASGI app; the other attributes are for tests to drive and read.

    `client_id`/`client_secret`/`account_id` are the default account's; `accounts` adds more.
    """

    def __init__(
        self,
        world: World | None = None,
        faults: Faults | None = None,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        account_id: str = DEFAULT_ACCOUNT_ID,
        accounts: Sequence[FakeAccount] = (),
        scopes: Sequence[str] = DEFAULT_SCOPES,
        withheld_scopes: Sequence[str] = (),
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
        self.extra_accounts = tuple(accounts)
        index_accounts(self.accounts)  # fail now, not at the first token request
        self.scopes = tuple(scopes)
        #: Scopes the app was not granted: an operation that accepts only these answers Zoom's
        #: 400 code 4711 naming them (e.g. `report:read:admin` for the report endpoints).
        self.withheld_scopes = frozenset(withheld_scopes)
        self.clock = clock
        self.spec = spec or Spec.load()
        self.access_tokens = AccessTokens(
            lifetime=token_lifetime, single_active=single_active_token, clock=clock
        )
        self.page_tokens = PageTokens(ttl=page_token_ttl, clock=clock)
        self.sockets = FakeSockets(self.access_tokens, clock)
        self.recording_files = RecordingFiles(
            self.access_tokens, clock, self.world.recorded_file_size
        )
        self.recordings = RecordingsAPI(
            self.world.lookup_any, self.world.recording, self.recording_files.mint_token
        )
        self.log = RequestLog()
        self.past_data = PastData(self.world, self.page_tokens)
        self.writes = Writes(self.spec)
        self.app = self._build_app()

    # -- what tests read and drive ------------------------------------------------------------

    @property
    def accounts(self) -> tuple[FakeAccount, ...]:
        """Every account the fake knows: the default one first, then `extra_accounts`."""
        default = FakeAccount(self.account_id, self.client_id, self.client_secret)
        return (default, *self.extra_accounts)

    @property
    def tokens_issued(self) -> int:
        """Access tokens issued so far (N workers sharing a token cache should make this 1)."""
        return self.access_tokens.issued

    def calls(
        self,
        operation_id: str | None = None,
        status: int | None = None,
        *,
        account_id: str | None = None,
    ) -> int:
        """Requests to an operation (e.g. `listWebinarParticipants`), optionally by status and
        by the account whose token made them."""
        return self.log.calls(operation_id, status, account_id=account_id)

    def peak_rate(
        self,
        window: float = 1.0,
        *,
        category: str | None = None,
        account_id: str | None = None,
        operation_id: str | None = None,
    ) -> int:
        """The most API requests in any `window` seconds (e.g. per category and account, to
        compare with Zoom's per-second limits); see `RequestLog.peak`."""
        return self.log.peak(
            window, category=category, account_id=account_id, operation_id=operation_id
        )

    def issue_token(self, account_id: str | None = None) -> str:
        """A valid bearer token for `account_id` (default: the default account), without going
        through `/oauth/token` (counts as an issuance)."""
        account_id = self.account_id if account_id is None else account_id
        if all(a.account_id != account_id for a in self.accounts):
            raise ValueError(f"fakezoom knows no account {account_id!r}")
        return self.access_tokens.issue(account_id).value

    def reset(self) -> None:
        """Forget requests, faults, access and page tokens (the world stays)."""
        self.log.clear()
        self.faults.clear()
        self.access_tokens.reset()
        self.page_tokens.expire_all()
        self.recording_files.reset()

    def _build_app(self) -> Starlette:
        from .control import control_routes  # control needs FakeZoom; import late.

        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        app = Starlette(
            routes=[
                Route("/oauth/token", self._oauth, methods=["POST"]),
                WebSocketRoute("/ws", self.sockets.endpoint),
                Route(
                    DOWNLOAD_PREFIX + "/{file_id}", self.recording_files.endpoint, methods=["GET"]
                ),
                Route(API_PREFIX + "/{rest:path}", self._api, methods=methods),
                Mount("/_fake", routes=control_routes(self)),
            ],
            middleware=[Middleware(TrackingId)],
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
        *,
        account_id: str | None,
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
                account_id=account_id,
            )
        )

    async def _api(self, request: Request) -> Response:
        at = self.clock()
        token_error, token = check_bearer(
            request.headers.get("authorization", ""), self.access_tokens
        )
        # Tokens issued by `AccessTokens` directly have no account: they are the default one's.
        account_id = (token.account_id or self.account_id) if token else None
        raw = request.scope.get("raw_path")
        raw_path = raw.decode("latin-1") if raw else quote(request.url.path)
        try:
            match = self.spec.route(
                request.method, raw_path, request.scope["query_string"].decode("latin-1")
            )
        except SpecViolation as violation:
            status, body = errors.spec_violation(violation.message, **violation.detail)
            self._record(request, at, status, body, violation.operation, account_id=account_id)
            return json_response(status, body)
        op = match.operation
        headers = {"X-RateLimit-Category": op.category}
        handler = self.past_data.handler(op.operation_id)
        if op.operation_id == RECORDINGS_OPERATION:
            handler = self._recordings_handler(request, account_id or self.account_id)
        write = self.writes.handler(op.operation_id)
        if handler is None and write is None:
            message = f"fakezoom: {op.method} {op.template} ({op.operation_id}) is not implemented"
            body = {"code": errors.NOT_IMPLEMENTED_CODE, "message": message}
            self._record(request, at, 501, body, match, account_id=account_id)
            return json_response(501, body, headers)
        if token_error is not None or account_id is None:
            error = token_error or errors.INVALID_ACCESS_TOKEN
            self._record(request, at, error.status, error.body(), match, account_id=None)
            return json_response(error.status, error.body(), headers)
        if op.scopes and set(op.scopes) <= self.withheld_scopes:
            error = errors.permission(4711, scopes=", ".join(op.scopes), account_id=account_id)
            self._record(request, at, error.status, error.body(), match, account_id=account_id)
            return json_response(error.status, error.body(), headers)
        selection = self.faults.select(
            request.url.path,
            API_PREFIX + op.template,
            has_page_token=bool(match.query.get("next_page_token")),
        )
        if selection.delay:
            await asyncio.sleep(selection.delay)
        fault = selection.answer
        if fault is not None:
            kind: Kind = "webinar" if "webinars/" in op.template else "meeting"
            out = render(
                fault,
                kind=kind,
                category=op.category,
                scopes=", ".join(op.scopes),
                account_id=account_id,
            )
            self._record(
                request,
                at,
                out.status,
                out.body,
                match,
                account_id=account_id,
                fault=fault.kind.value,
            )
            return json_response(out.status, out.body, headers | out.headers)
        slow = "slow" if selection.delay else None
        if write is not None:
            sent, invalid = self.writes.check_body(op.operation_id, await request.body())
            if invalid is not None:
                self._record(request, at, 400, invalid, match, account_id=account_id)
                return json_response(400, invalid, headers)
            status, answer = write(match, sent)
            self._record(
                request, at, status, answer or {}, match, account_id=account_id, fault=slow
            )
            if answer is None:
                return Response(status_code=status, headers=headers)
            return json_response(status, answer, headers)
        assert handler is not None

        def page() -> Response:
            status, body = handler(match)
            self._record(request, at, status, body, match, account_id=account_id, fault=slow)
            return json_response(status, body, headers)

        # A page of hundreds of rows takes milliseconds to build and encode. Off the event
        # loop, requests that arrive meanwhile are stamped when they arrive, not after it: the
        # per-second peaks that tests compare with Zoom's limits are read from those stamps.
        return await run_in_threadpool(page)

    def _recordings_handler(self, request: Request, account_id: str) -> Handler:
        base_url = str(request.base_url).rstrip("/")

        def answer(match: Match) -> tuple[int, dict[str, Any]]:
            return self.recordings.answer(match, base_url, account_id)

        return answer

    async def _oauth(self, request: Request) -> Response:
        at = self.clock()
        params = dict(request.query_params)
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            # Parsed by hand: Starlette's form parser needs python-multipart.
            params |= dict(parse_qsl((await request.body()).decode("latin-1")))
        check = check_token_request(
            request.headers.get("authorization", ""), params, index_accounts(self.accounts)
        )
        status, body, account = check.status, check.body, check.account
        account_id = account.account_id if account else None
        reply: dict[str, Any] | str = body
        selection = self.faults.select("/oauth/token", "/oauth/token", has_page_token=False)
        if selection.delay:
            await asyncio.sleep(selection.delay)
        fault_name = None
        if selection.answer is not None:
            out = render(
                selection.answer,
                kind=None,
                category="Light",
                scopes="",
                account_id=account_id or self.account_id,
            )
            status, reply, fault_name = out.status, out.body, selection.answer.kind.value
        elif status == 200 and account_id is not None:
            token = self.access_tokens.issue(account_id)
            api_url = str(request.base_url).rstrip("/")
            granted = [scope for scope in self.scopes if scope not in self.withheld_scopes]
            reply = token_body(token, self.access_tokens.lifetime, granted, api_url)
        self._record(
            request,
            at,
            status,
            reply,
            None,
            account_id=account_id,
            operation_id=OAUTH_OPERATION,
            template="/oauth/token",
            fault=fault_name,
        )
        return json_response(status, reply)


def create_app(
    world: World | None = None, faults: Faults | None = None, **options: Any
) -> Starlette:
    """A fake Zoom app; its `FakeZoom` is `app.state.fakezoom`. `options`: see `FakeZoom`."""
    return FakeZoom(world, faults, **options).app
