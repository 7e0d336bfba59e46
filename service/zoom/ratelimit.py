"""Reading a Zoom 429: how long to wait, which quota, and whether it is the daily one.

Zoom's rate-limit page lists the headers of a 429 as `X-RateLimit-Category` (the endpoint's
"Rate Limit Label": Light, Medium, Heavy, Resource-intensive), `X-RateLimit-Type` (`QPS` or
`Daily-limit`), `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `Retry-After`, whose example
is an ISO timestamp (`2020-05-31T00:00:00Z`) rather than the RFC 9110 seconds or HTTP-date; all
three forms are accepted. Daily quotas reset at 00:00 UTC ("You may resume these requests at
GMT 00:00:00"), and some daily 429s come without `X-RateLimit-Type`, so the body message is
read too. Sources: https://developers.zoom.us/docs/api/rate-limits/ and
https://devforum.zoom.us/t/zoom-api-create-meeting-api-rate-limit-sample-error-when-breaching-limit/18928
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

CATEGORY_HEADER = "x-ratelimit-category"
TYPE_HEADER = "x-ratelimit-type"
RETRY_AFTER_HEADER = "retry-after"


class RateLimitCategory(StrEnum):
    LIGHT = "Light"
    MEDIUM = "Medium"
    HEAVY = "Heavy"
    RESOURCE_INTENSIVE = "Resource-intensive"

    @classmethod
    def parse(cls, value: str | None) -> RateLimitCategory | None:
        """Case- and separator-insensitive: Zoom's spec writes `MEDIUM`, its headers `Medium`."""
        if not value:
            return None
        wanted = re.sub(r"[^a-z]", "", value.lower())
        for member in cls:
            if re.sub(r"[^a-z]", "", member.value.lower()) == wanted:
                return member
        return None


#: Wait when a per-second 429 carries no usable Retry-After (seconds). Light/Medium/Heavy quotas
#: are per second, so a couple of seconds lets the window roll over with a margin; the
#: Resource-intensive quota is per minute.
DEFAULT_QPS_WAITS: Mapping[RateLimitCategory, float] = {
    RateLimitCategory.LIGHT: 2.0,
    RateLimitCategory.MEDIUM: 2.0,
    RateLimitCategory.HEAVY: 5.0,
    RateLimitCategory.RESOURCE_INTENSIVE: 60.0,
}
#: Wait for a per-second 429 whose category is unknown (seconds).
DEFAULT_UNKNOWN_CATEGORY_WAIT = 10.0
#: Slack added after 00:00 UTC before a parked daily-limited job resumes (seconds), so that the
#: first request does not race Zoom's own reset.
DEFAULT_DAILY_RESET_MARGIN = 60.0
#: Longest Retry-After honoured (seconds); anything longer is treated as a daily park.
MAX_RETRY_AFTER = 26 * 60 * 60
#: Shortest wait after a 429 (seconds): `Retry-After: 0` or a moment already past must not
#: turn into a loop of immediate retries.
MIN_RETRY_AFTER = 1.0

_DAILY_MESSAGE = re.compile(r"daily (rate )?limit|per day|GMT 00:00", re.IGNORECASE)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value, or None if absent or unreadable.

    Accepts delta-seconds (`"7"`), an HTTP-date and an ISO 8601 timestamp. A moment in the past
    gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    moment = _parse_moment(text)
    if moment is None:
        return None
    return max(0.0, moment.timestamp() - now)


def _parse_moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def seconds_until_next_utc_midnight(now: float) -> float:
    """Seconds from `now` (epoch seconds) to the next 00:00:00 UTC; a full day at midnight."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    midnight = datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)
    return midnight.timestamp() - now


def daily_park_delay(now: float, *, margin_seconds: float = DEFAULT_DAILY_RESET_MARGIN) -> float:
    """How long a job hitting a daily quota should sleep: until next UTC midnight plus a margin."""
    return seconds_until_next_utc_midnight(now) + margin_seconds


def is_daily_limit(headers: Mapping[str, str], message: str = "") -> bool:
    kind = headers.get(TYPE_HEADER, "")
    if kind:
        return "daily" in kind.lower()
    return bool(_DAILY_MESSAGE.search(message))


def rate_limit_delay(
    headers: Mapping[str, str],
    *,
    now: float,
    message: str = "",
    fallback_category: RateLimitCategory | None = None,
) -> tuple[float, RateLimitCategory | None, bool]:
    """(seconds to wait, category, daily?) for a 429 response.

    `headers` must be case-insensitive (httpx's are) or use lower-case names.
    `fallback_category` is the endpoint's documented label, used when the header is missing.
    """
    category = RateLimitCategory.parse(headers.get(CATEGORY_HEADER)) or fallback_category
    daily = is_daily_limit(headers, message)
    retry_after = parse_retry_after(headers.get(RETRY_AFTER_HEADER), now=now)
    if retry_after is not None and retry_after > MAX_RETRY_AFTER:
        retry_after = None
    if daily:
        # Zoom's own reset moment wins when given; otherwise next midnight.
        if retry_after is not None:
            return retry_after + DEFAULT_DAILY_RESET_MARGIN, category, True
        return daily_park_delay(now), category, True
    if retry_after is not None:
        return max(retry_after, MIN_RETRY_AFTER), category, False
    if category is None:
        return DEFAULT_UNKNOWN_CATEGORY_WAIT, None, False
    return DEFAULT_QPS_WAITS[category], category, False
