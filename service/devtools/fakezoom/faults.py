"""Switchable faults: make the fake answer like Zoom on a bad day.

A `Fault` is scoped by a glob (`path`, matched with `fnmatch` against the request path *and* the
spec template, both with the `/v2` prefix: `/v2/past_webinars/*/participants` and
`/v2/past_webinars/{webinarId}/participants` both work), lets `skip` matching requests through,
then fires `count` times (None: forever). Set them in-process (`fake.faults.add(...)` or the
helpers below) or over HTTP (`POST /_fake/faults` with `Fault.to_json()`'s shape).

Each API request is checked after spec validation and authentication, so a fault's count is
spent only on requests that would otherwise have been served. `SLOW` faults add their `delay`
and let the request go on; the first other matching fault answers it.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from . import errors
from .errors import Kind

#: Faults apply to the API, not the OAuth endpoint, unless a path says otherwise.
DEFAULT_FAULT_PATH = "/v2/*"
#: `Retry-After` of a per-second (QPS) 429 (seconds).
DEFAULT_QPS_RETRY_AFTER = 1
#: `X-RateLimit-Limit` by category: Zoom's per-second limits for Business+ accounts.
QPS_LIMITS = {"Light": 80, "Medium": 60, "Heavy": 40, "Resource-intensive": 20}
#: `X-RateLimit-Limit` of a daily-limit 429 (requests per day).
DAILY_LIMIT = 60_000


class FaultKind(StrEnum):
    RATE_LIMIT = "rate_limit"  # 429, Retry-After and X-RateLimit-* headers
    SERVER_ERROR = "server_error"  # 5xx (status, default 500)
    NOT_READY = "not_ready"  # 404 code 3001 "... ID is invalid or not end."
    TOKEN_INVALID = "token_invalid"  # noqa: S105 - 401 code 124 "Invalid access token."
    PAGE_TOKEN_EXPIRED = "page_token_expired"  # noqa: S105 - 400 code 300, with a page token only
    PERMISSION = "permission"  # 400 code 4711 (or 4700, 3000, 3003, 200, 1010 via `code`)
    TOO_OLD = "too_old"  # 400 code 12702
    SLOW = "slow"  # sleep `delay` seconds, then serve normally
    ERROR = "error"  # any `status`/`code`/`message`


@dataclass
class Fault:
    kind: FaultKind
    path: str = DEFAULT_FAULT_PATH
    count: int | None = 1
    skip: int = 0
    status: int | None = None
    code: int | None = None
    message: str | None = None
    #: Seconds to wait before answering (SLOW: then serve normally).
    delay: float = 0.0
    #: RATE_LIMIT: `QPS` or `Daily-limit` (Zoom's X-RateLimit-Type values).
    rate_limit_type: str = "QPS"
    #: RATE_LIMIT: the Retry-After value; None: `1` for QPS, next UTC midnight (ISO) for daily,
    #: as Zoom's docs show; "" leaves the header out.
    retry_after: str | None = None
    #: A raw body instead of Zoom's JSON (e.g. an HTML page from a gateway), sent as text/html.
    body: str | None = None
    id: int = 0
    #: Matching requests seen, and how many of them this fault answered (or delayed).
    seen: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        self.kind = FaultKind(self.kind)
        if self.rate_limit_type not in ("QPS", "Daily-limit"):
            raise ValueError(
                f"rate_limit_type must be QPS or Daily-limit, not {self.rate_limit_type!r}"
            )

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        known = {f.name for f in fields(cls)} - {"id", "seen", "fired"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Selection:
    """The faults one request meets: a total delay, then maybe a fault that answers it."""

    delay: float = 0.0
    answer: Fault | None = None


class Faults:
    """The active faults, in the order added. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, fault: Fault | None = None, /, **kwargs: Any) -> Fault:
        """Add `fault`, or `Fault(**kwargs)`; returns it (with its `id`)."""
        fault = fault if fault is not None else Fault(**kwargs)
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def rate_limit(self, path: str = DEFAULT_FAULT_PATH, count: int | None = 1, **kw: Any) -> Fault:
        return self.add(kind=FaultKind.RATE_LIMIT, path=path, count=count, **kw)

    def server_error(
        self, path: str = DEFAULT_FAULT_PATH, count: int | None = 1, status: int = 500, **kw: Any
    ) -> Fault:
        return self.add(kind=FaultKind.SERVER_ERROR, path=path, count=count, status=status, **kw)

    def not_ready(self, path: str = DEFAULT_FAULT_PATH, count: int | None = 1, **kw: Any) -> Fault:
        return self.add(kind=FaultKind.NOT_READY, path=path, count=count, **kw)

    def token_invalid(
        self, path: str = DEFAULT_FAULT_PATH, count: int | None = 1, **kw: Any
    ) -> Fault:
        return self.add(kind=FaultKind.TOKEN_INVALID, path=path, count=count, **kw)

    def page_token_expired(
        self, path: str = DEFAULT_FAULT_PATH, count: int | None = 1, **kw: Any
    ) -> Fault:
        return self.add(kind=FaultKind.PAGE_TOKEN_EXPIRED, path=path, count=count, **kw)

    def permission(
        self, path: str = DEFAULT_FAULT_PATH, count: int | None = 1, code: int = 4711, **kw: Any
    ) -> Fault:
        return self.add(kind=FaultKind.PERMISSION, path=path, count=count, code=code, **kw)

    def schedule_for_refused(
        self, user: str, path: str = "/v2/meetings/*", count: int | None = 1, **kw: Any
    ) -> Fault:
        """Zoom's 400 code 3000 when the host may not schedule for `user` (no scheduling
        privilege between them), as devforum.zoom.us/t/129457 shows it."""
        message = f"You cannot schedule a meeting for {user}."
        return self.add(
            kind=FaultKind.ERROR,
            path=path,
            count=count,
            status=400,
            code=3000,
            message=message,
            **kw,
        )

    def too_old(self, path: str = DEFAULT_FAULT_PATH, count: int | None = 1, **kw: Any) -> Fault:
        return self.add(kind=FaultKind.TOO_OLD, path=path, count=count, **kw)

    def slow(
        self, delay: float, path: str = DEFAULT_FAULT_PATH, count: int | None = 1, **kw: Any
    ) -> Fault:
        return self.add(kind=FaultKind.SLOW, path=path, count=count, delay=delay, **kw)

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def all(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def select(self, path: str, template: str | None, *, has_page_token: bool) -> Selection:
        """Spend the faults this request meets (thread-safe)."""
        delay = 0.0
        with self._lock:
            for fault in self._faults:
                if not _matches(fault, path, template, has_page_token):
                    continue
                fault.seen += 1
                if fault.seen <= fault.skip or fault.exhausted:
                    continue
                fault.fired += 1
                delay += fault.delay
                if fault.kind is not FaultKind.SLOW:
                    return Selection(delay, fault)
        return Selection(delay, None)


def _matches(fault: Fault, path: str, template: str | None, has_page_token: bool) -> bool:
    if fault.kind is FaultKind.PAGE_TOKEN_EXPIRED and not has_page_token:
        return False
    if fnmatch.fnmatchcase(path, fault.path):
        return True
    return template is not None and fnmatch.fnmatchcase(template, fault.path)


@dataclass(frozen=True, slots=True)
class Rendered:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str]


def render(
    fault: Fault, *, kind: Kind | None, category: str, scopes: str, account_id: str
) -> Rendered:
    """The response `fault` makes for a request to an operation of this kind and category."""
    headers: dict[str, str] = {}
    default: errors.ZoomError
    noun: Kind = kind or "meeting"
    match fault.kind:
        case FaultKind.RATE_LIMIT:
            default, headers = _rate_limit(fault, category)
        case FaultKind.SERVER_ERROR | FaultKind.SLOW:
            status = fault.status or 500
            default = errors.ZoomError(status, status, "Internal Server Error")
        case FaultKind.NOT_READY:
            default = errors.not_ended(noun)
        case FaultKind.TOKEN_INVALID:
            default = errors.INVALID_ACCESS_TOKEN
        case FaultKind.PAGE_TOKEN_EXPIRED:
            default = errors.PAGE_TOKEN_INVALID
        case FaultKind.PERMISSION:
            default = errors.permission(fault.code or 4711, scopes=scopes, account_id=account_id)
        case FaultKind.TOO_OLD:
            default = errors.too_old(noun)
        case FaultKind.ERROR:
            default = errors.ZoomError(400, 0, "")
    status = fault.status or default.status
    if fault.body is not None:
        return Rendered(status, fault.body, headers)
    code = fault.code if fault.code is not None else default.code
    return Rendered(status, {"code": code, "message": fault.message or default.message}, headers)


def _rate_limit(fault: Fault, category: str) -> tuple[errors.ZoomError, dict[str, str]]:
    daily = fault.rate_limit_type == "Daily-limit"
    limit = DAILY_LIMIT if daily else QPS_LIMITS.get(category, QPS_LIMITS["Light"])
    retry_after = fault.retry_after
    if retry_after is None:
        midnight = (datetime.now(UTC) + timedelta(days=1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        retry_after = (
            midnight.strftime("%Y-%m-%dT%H:%M:%SZ") if daily else str(DEFAULT_QPS_RETRY_AFTER)
        )
    headers = {
        "X-RateLimit-Category": category,
        "X-RateLimit-Type": fault.rate_limit_type,
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
    }
    if retry_after:
        headers["Retry-After"] = retry_after
    if daily:
        message = errors.RATE_LIMIT_DAILY_MESSAGE.format(limit=limit, category=category)
    else:
        message = errors.RATE_LIMIT_QPS_MESSAGE
    return errors.ZoomError(429, 429, message), headers
