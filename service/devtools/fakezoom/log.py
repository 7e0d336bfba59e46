"""The request log: what each client asked the fake, and what it got.

Counts per operation are kept apart from the (bounded) list of records, so a benchmark can
assert `calls == ceil(rows / 300)` however many requests it made.
"""

from __future__ import annotations

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
    #: Monotonic clock reading when the request arrived (seconds).
    at: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """Thread-safe log of requests with per-operation and per-status counters."""

    def __init__(self, limit: int = DEFAULT_LOG_LIMIT) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=limit)
        self._calls: Counter[str] = Counter()
        self._statuses: Counter[tuple[str, int]] = Counter()

    def add(self, record: RequestRecord) -> None:
        key = record.operation_id or "unmatched"
        with self._lock:
            self._records.append(record)
            self._calls[key] += 1
            self._statuses[(key, record.status)] += 1

    def records(self, operation_id: str | None = None) -> list[RequestRecord]:
        with self._lock:
            records = list(self._records)
        return [r for r in records if operation_id is None or r.operation_id == operation_id]

    def calls(self, operation_id: str | None = None, status: int | None = None) -> int:
        """Requests to one operation (all if None), optionally only those answered `status`."""
        with self._lock:
            if status is not None:
                return sum(
                    n
                    for (op, st), n in self._statuses.items()
                    if st == status and operation_id in (None, op)
                )
            if operation_id is None:
                return sum(self._calls.values())
            return self._calls[operation_id]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._calls.clear()
            self._statuses.clear()
