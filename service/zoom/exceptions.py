"""What the Zoom client raises. Messages name the endpoint and Zoom's tracking ID, never secrets."""

from __future__ import annotations

from .errors import Outcome


class ZoomError(Exception):
    """Base of every error raised by `service.zoom`."""


class ZoomAPIError(ZoomError):
    """A call failed; `outcome` says what the caller should do about it.

    `advice` is operator-facing; `zoom_code` and `zoom_message` are Zoom's own; `tracking_id`
    is Zoom's `x-zm-trackingid`, what Zoom support asks for.
    """

    def __init__(
        self,
        outcome: Outcome,
        advice: str,
        *,
        endpoint: str,
        status: int | None = None,
        zoom_code: int | None = None,
        zoom_message: str = "",
        tracking_id: str | None = None,
        missing_scopes: tuple[str, ...] = (),
    ) -> None:
        self.outcome = outcome
        self.advice = advice
        self.endpoint = endpoint
        self.status = status
        self.zoom_code = zoom_code
        self.zoom_message = zoom_message
        self.tracking_id = tracking_id
        self.missing_scopes = missing_scopes
        super().__init__(self._render())

    def _render(self) -> str:
        facts = [f"endpoint={self.endpoint}", f"outcome={self.outcome.value}"]
        if self.status is not None:
            facts.append(f"http={self.status}")
        if self.zoom_code is not None:
            facts.append(f"zoom_code={self.zoom_code}")
        if self.tracking_id:
            facts.append(f"tracking_id={self.tracking_id}")
        return f"{self.advice} [{' '.join(facts)}]"


class RateLimited(ZoomAPIError):
    """HTTP 429. Wait `retry_after_seconds` (until past 00:00 UTC when `daily`), then retry.

    A Dramatiq actor should raise `dramatiq.Retry(delay=int(retry_after_seconds * 1000))`, so the
    wait does not count against its normal retry budget.
    """

    def __init__(
        self,
        retry_after_seconds: float,
        category: str | None,
        daily: bool,
        *,
        advice: str,
        endpoint: str,
        status: int | None = 429,
        zoom_code: int | None = None,
        zoom_message: str = "",
        tracking_id: str | None = None,
    ) -> None:
        self.retry_after_seconds = retry_after_seconds
        self.category = category
        self.daily = daily
        super().__init__(
            Outcome.RATE_LIMITED,
            advice,
            endpoint=endpoint,
            status=status,
            zoom_code=zoom_code,
            zoom_message=zoom_message,
            tracking_id=tracking_id,
        )

    def _render(self) -> str:
        kind = "daily" if self.daily else "per-second"
        facts = f"{kind} limit, category={self.category or 'unknown'}"
        return f"{super()._render()} (retry after {self.retry_after_seconds:.0f}s; {facts})"


class Throttled(RateLimited):
    """zoomhooks' own rate governor, not Zoom, says wait: this account's budget for the category
    is spoken for further ahead than a worker should sleep. Handled like a 429 (a fresh delayed
    message that spends no attempt), but no request was made."""

    def __init__(
        self, retry_after_seconds: float, category: str, *, daily: bool, advice: str
    ) -> None:
        super().__init__(
            retry_after_seconds, category, daily, advice=advice, endpoint="governor", status=None
        )


class TokenUnavailable(ZoomAPIError):
    """No access token: the OAuth endpoint refused or failed, or another worker's lease stuck.

    `outcome` is PERMISSION for refused credentials, TRANSIENT otherwise.
    """
