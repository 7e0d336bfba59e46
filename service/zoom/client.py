"""The Zoom REST client: past meetings and webinars, their participants, absentees, Q&A and polls.

Build one `ZoomClient` per process and share it between threads: it holds the connection pool
and the token cache. Every failure is raised as a `ZoomAPIError` whose `outcome` tells the caller
what to do (see `errors.RULES`); a 429 is a `RateLimited` carrying the delay.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from . import endpoints as ep
from .auth import DEFAULT_OAUTH_URL, TokenManager
from .backoff import RetryPolicy
from .endpoints import DEFAULT_PAGE_SIZE, Endpoint, RequestSpec, build_request
from .errors import Outcome, classify
from .exceptions import RateLimited, ZoomAPIError
from .pagination import ListingRestarted, Page, RawPage, paginate
from .ratelimit import rate_limit_delay
from .tokens import MemoryTokenStore, StoredToken, TokenStore
from .transport import OnRequest, Pacer, Transport, tracking_id

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.zoom.us/v2"
#: With a pacer, one call waits out per-second 429s in place while their Retry-Afters add up to
#: at most this (seconds); past it, or for a daily 429, `RateLimited` goes back to the caller.
DEFAULT_INLINE_429_WAIT = 30.0

OnRestart = Callable[[ListingRestarted], None]


@dataclass(frozen=True, slots=True)
class ZoomResponse:
    endpoint: Endpoint
    status: int
    body: dict[str, Any]
    #: Zoom's `x-zm-trackingid`, what Zoom support asks for.
    tracking_id: str | None

    @property
    def records(self) -> list[dict[str, Any]]:
        """The listed records (instances, questions); empty for a single object."""
        if self.endpoint.records_key is None:
            return []
        return _records(self.body, self.endpoint)


class ZoomClient:
    def __init__(
        self,
        *,
        account_id: str,
        client_id: str,
        client_secret: str,
        api_base_url: str = DEFAULT_API_BASE_URL,
        oauth_url: str = DEFAULT_OAUTH_URL,
        token_store: TokenStore | None = None,
        timeout: httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        on_request: OnRequest | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        if not 1 <= page_size <= DEFAULT_PAGE_SIZE:
            raise ValueError(f"page_size must lie in 1..{DEFAULT_PAGE_SIZE}")
        self.api_base_url = api_base_url.rstrip("/")
        self.page_size = page_size
        self.account_id = account_id
        self._clock = clock
        self._pacer = pacer
        self._transport = Transport(
            timeout=timeout, retry=retry, sleep=sleep, rng=rng, on_request=on_request, pacer=pacer
        )
        self._tokens = TokenManager(
            account_id=account_id,
            client_id=client_id,
            client_secret=client_secret,
            transport=self._transport,
            store=token_store if token_store is not None else MemoryTokenStore(),
            oauth_url=oauth_url,
            clock=clock,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"<ZoomClient {self.api_base_url} account={self.account_id}>"

    def __enter__(self) -> ZoomClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def access_token(self, rejected: str | None = None) -> StoredToken:
        """The app's access token, shared with every process through the token store, for
        what authenticates with it other than REST calls (a WebSocket subscription). Fresh
        for at least `token_renew_margin` seconds; never `rejected`, one Zoom just refused."""
        return self._tokens.current(rejected=rejected)

    @property
    def token_renew_margin(self) -> float:
        """How long before a token expires it is renewed (seconds)."""
        return self._tokens.renew_margin

    # -- generic ------------------------------------------------------------------------------

    def get(
        self,
        endpoint: Endpoint,
        resource_id: int | str,
        *,
        query: Mapping[str, str | int] | None = None,
    ) -> ZoomResponse:
        """One call to a non-paginated endpoint."""
        return self._call(build_request(endpoint, resource_id, query=query))

    def write(
        self,
        endpoint: Endpoint,
        resource_id: int | str,
        method: str,
        body: Mapping[str, Any],
    ) -> ZoomResponse:
        """One write (PUT/PATCH) with a JSON body; Zoom answers 204 and no body on success.

        Only idempotent writes belong here: the transport retries a 5xx, and a job may run
        again after a crash between Zoom's answer and the audit row's update.
        """
        return self._call(build_request(endpoint, resource_id), method=method, body=body)

    def pages(
        self,
        endpoint: Endpoint,
        resource_id: int | str,
        *,
        query: Mapping[str, str | int] | None = None,
        on_restart: OnRestart | None = None,
    ) -> Iterator[Page]:
        """Every page of a paginated endpoint, `page_size` records at a time, lazily."""
        if not endpoint.paginated:
            raise ValueError(f"{endpoint.name} is not paginated")
        build_request(endpoint, resource_id, query=query)  # refuse bad input now, not at next()

        def fetch(token: str | None) -> RawPage:
            spec = build_request(
                endpoint, resource_id, query=query, page_size=self.page_size, page_token=token
            )
            response = self._call(spec)
            total = response.body.get("total_records")
            return RawPage(
                records=_records(response.body, endpoint),
                next_page_token=response.body.get("next_page_token") or None,
                total_records=total if isinstance(total, int) else None,
                tracking_id=response.tracking_id,
            )

        return paginate(fetch, endpoint=endpoint.name, on_restart=on_restart)

    # -- endpoints ----------------------------------------------------------------------------

    def past_webinar_participants(
        self, webinar_id: int | str, *, on_restart: OnRestart | None = None
    ) -> Iterator[Page]:
        return self.pages(ep.PAST_WEBINAR_PARTICIPANTS, webinar_id, on_restart=on_restart)

    def past_webinar_absentees(
        self,
        webinar_id: int | str,
        *,
        occurrence_id: str | None = None,
        on_restart: OnRestart | None = None,
    ) -> Iterator[Page]:
        query = {"occurrence_id": occurrence_id} if occurrence_id else None
        return self.pages(ep.PAST_WEBINAR_ABSENTEES, webinar_id, query=query, on_restart=on_restart)

    def past_webinar_qa(self, webinar_id: int | str) -> ZoomResponse:
        return self.get(ep.PAST_WEBINAR_QA, webinar_id)

    def past_webinar_polls(self, webinar_id: int | str) -> ZoomResponse:
        return self.get(ep.PAST_WEBINAR_POLLS, webinar_id)

    def past_webinar_instances(self, webinar_id: int | str) -> ZoomResponse:
        return self.get(ep.PAST_WEBINAR_INSTANCES, webinar_id)

    def past_meeting(self, meeting_id: int | str) -> ZoomResponse:
        return self.get(ep.PAST_MEETING, meeting_id)

    def past_meeting_participants(
        self, meeting_id: int | str, *, on_restart: OnRestart | None = None
    ) -> Iterator[Page]:
        return self.pages(ep.PAST_MEETING_PARTICIPANTS, meeting_id, on_restart=on_restart)

    def past_meeting_qa(self, meeting_id: int | str) -> ZoomResponse:
        return self.get(ep.PAST_MEETING_QA, meeting_id)

    def past_meeting_polls(self, meeting_id: int | str) -> ZoomResponse:
        return self.get(ep.PAST_MEETING_POLLS, meeting_id)

    def past_meeting_instances(self, meeting_id: int | str) -> ZoomResponse:
        return self.get(ep.PAST_MEETING_INSTANCES, meeting_id)

    def meeting_recordings(
        self, meeting_id: int | str, *, query: Mapping[str, str | int] | None = None
    ) -> ZoomResponse:
        """A meeting's or webinar's cloud recording (by instance UUID, or a number: its latest)."""
        return self.get(ep.MEETING_RECORDINGS, meeting_id, query=query)

    # -- plumbing -----------------------------------------------------------------------------

    def _call(
        self,
        spec: RequestSpec,
        *,
        method: str = "GET",
        body: Mapping[str, Any] | None = None,
    ) -> ZoomResponse:
        endpoint = spec.endpoint
        rejected: str | None = None
        waited_429 = 0.0
        while True:
            token = self._tokens.token(rejected=rejected)
            response = self._transport.send(
                method,
                self.api_base_url + spec.path,
                endpoint=endpoint.name,
                params=spec.params,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                category=endpoint.rate_limit.value,
                json=body,
            )
            answer = _json_object(response)
            trace = tracking_id(response)
            if response.status_code == 204 and method != "GET":
                return ZoomResponse(endpoint, 204, {}, trace)
            if response.is_success and answer is not None and not _is_error_body(answer):
                return ZoomResponse(endpoint, response.status_code, answer, trace)
            code, message = _error_fields(answer, response)
            if response.status_code == 429:
                limited = self._rate_limited(response, endpoint, code, message)
                if self._pacer is not None:
                    self._pacer.rate_limited(
                        limited.category or endpoint.rate_limit.value,
                        limited.retry_after_seconds,
                        daily=limited.daily,
                    )
                # A short per-second 429 is waited out here (the pacer holds this call and every
                # other until Retry-After): giving up would drop a paginated listing and fetch
                # its first pages again later.
                if (
                    self._pacer is not None
                    and not limited.daily
                    and waited_429 + limited.retry_after_seconds <= DEFAULT_INLINE_429_WAIT
                ):
                    waited_429 += limited.retry_after_seconds
                    log.info("zoom 429 on %s (%s); waiting in place", endpoint.name, trace)
                    continue
                raise limited
            found = classify(response.status_code, code, message, endpoint=endpoint)
            if found.outcome is Outcome.TOKEN_EXPIRED and rejected is None:
                log.info("zoom refused the access token on %s (%s); renewing", endpoint.name, trace)
                rejected = token
                continue
            raise ZoomAPIError(
                found.outcome,
                found.advice,
                endpoint=endpoint.name,
                status=response.status_code,
                zoom_code=code,
                zoom_message=message,
                tracking_id=trace,
                missing_scopes=found.missing_scopes,
            )

    def _rate_limited(
        self, response: httpx.Response, endpoint: Endpoint, code: int | None, message: str
    ) -> RateLimited:
        delay, category, daily = rate_limit_delay(
            response.headers,
            now=self._clock(),
            message=message,
            fallback_category=endpoint.rate_limit,
        )
        advice = classify(429, code, message, endpoint=endpoint).advice
        return RateLimited(
            delay,
            category.value if category else None,
            daily,
            advice=advice,
            endpoint=endpoint.name,
            zoom_code=code,
            zoom_message=message,
            tracking_id=tracking_id(response),
        )


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _is_error_body(body: Mapping[str, Any]) -> bool:
    # Zoom's error shape; a real record set always carries more keys than these.
    return isinstance(body.get("code"), int) and set(body) <= {"code", "message", "errors"}


def _error_fields(
    body: Mapping[str, Any] | None, response: httpx.Response
) -> tuple[int | None, str]:
    if body is None:
        return None, f"non-JSON {response.headers.get('content-type', 'body')}"
    code = body.get("code")
    message = body.get("message")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        message if isinstance(message, str) else "",
    )


def _records(body: Mapping[str, Any], endpoint: Endpoint) -> list[dict[str, Any]]:
    records = body.get(endpoint.records_key or "") or []
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ZoomAPIError(
            Outcome.FATAL,
            f"Zoom's answer to {endpoint.name} has a malformed {endpoint.records_key!r} list.",
            endpoint=endpoint.name,
        )
    return records
