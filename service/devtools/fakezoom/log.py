"""The request log: what each client asked the fake, and what it got.

Counts per operation (and per account) are kept apart from the (bounded) list of records, so a
benchmark can assert `calls == ceil(rows / 300)` however many requests it made. Rates (`peak`,
`per_window`) are computed from the records, so only over the newest `DEFAULT_LOG_LIMIT`.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

#: Records kept (the oldest are dropped past this); counters are never dropped.
DEFAULT_LOG_LIMIT = 100_000
#: `operation_id` recorded for `POST /oauth/token`.
OAUTH_OPERATION = "oauthToken"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    #: The path exactly as sent (still percent-encoded), without the query string.
    raw_path: str
    query: str
    #: The spec's operationId (or `oauthToken`); None when the request matched no operation.
    operation_id: str | None
    template: str | None
    #: Zoom's rate-limit category of the operation (`Light`, `Medium`, `Heavy`...).
    category: str | None
    status: int
    #: The `code` of a Zoom error body, if the answer was one.
    code: int | None
    #: The kind of fault that answered or delayed the request, if any.
    fault: str | None
    tracking_id: str
    #: The fake's clock (monotonic by default) when the request arrived (seconds).
    at: float
    #: The account of the request's valid bearer token (None: missing, invalid or expired);
    #: for `oauthToken`, the account asked for if the client credentials are that account's.
    account_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """Thread-safe log of requests with per-operation, per-status and per-account counters."""

    def __init__(self, limit: int = DEFAULT_LOG_LIMIT) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=limit)
        self._calls: Counter[str] = Counter()
        self._counts: Counter[tuple[str, int, str | None]] = Counter()

    def add(self, record: RequestRecord) -> None:
        key = record.operation_id or "unmatched"
        with self._lock:
            self._records.append(record)
            self._calls[key] += 1
            self._counts[(key, record.status, record.account_id)] += 1

    def records(
        self, operation_id: str | None = None, *, account_id: str | None = None
    ) -> list[RequestRecord]:
        with self._lock:
            records = list(self._records)
        return [
            r
            for r in records
            if operation_id in (None, r.operation_id) and account_id in (None, r.account_id)
        ]

    def calls(
        self,
        operation_id: str | None = None,
        status: int | None = None,
        *,
        account_id: str | None = None,
    ) -> int:
        """Requests to one operation (all if None), optionally only those answered `status`
        or made with `account_id`'s token."""
        with self._lock:
            if status is None and account_id is None:
                if operation_id is None:
                    return sum(self._calls.values())
                return self._calls[operation_id]
            return sum(
                n
                for (op, st, acct), n in self._counts.items()
                if operation_id in (None, op)
                and status in (None, st)
                and account_id in (None, acct)
            )

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def peak(
        self,
        window: float = 1.0,
        *,
        category: str | None = None,
        account_id: str | None = None,
        operation_id: str | None = None,
    ) -> int:
        """The most matching requests that arrived within any `[t, t + window)` (seconds).

        Counts API requests only (not `oauthToken`, unless `operation_id` names it), and only
        the kept records: with more than the log's limit, the oldest are not counted.
        """
        times = sorted(self._times(window, category, account_id, operation_id))
        best, start = 0, 0
        for end, at in enumerate(times):
            # `at >= t + window` rather than `at - t >= window`: the bound is t + window as a
            # float, so two arrivals exactly one window apart never share an interval.
            while at >= times[start] + window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def per_window(
        self,
        window: float = 1.0,
        *,
        category: str | None = None,
        account_id: str | None = None,
        operation_id: str | None = None,
    ) -> dict[int, int]:
        """Matching requests per fixed bucket `floor(at / window)` (same filters as `peak`);
        empty buckets are left out."""
        times = self._times(window, category, account_id, operation_id)
        return dict(sorted(Counter(math.floor(at / window) for at in times).items()))

    def _times(
        self,
        window: float,
        category: str | None,
        account_id: str | None,
        operation_id: str | None,
    ) -> list[float]:
        if not window > 0:
            raise ValueError(f"window must be positive, not {window!r}")
        with self._lock:
            records = list(self._records)
        return [
            r.at
            for r in records
            if (
                r.operation_id != OAUTH_OPERATION
                if operation_id is None
                else r.operation_id == operation_id
            )
            and category in (None, r.category)
            and account_id in (None, r.account_id)
        ]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._calls.clear()
            self._counts.clear()
