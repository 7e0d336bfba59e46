from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.zoom.ratelimit import (
    DEFAULT_DAILY_RESET_MARGIN,
    DEFAULT_QPS_WAITS,
    DEFAULT_UNKNOWN_CATEGORY_WAIT,
    MIN_RETRY_AFTER,
    RateLimitCategory,
    daily_park_delay,
    is_daily_limit,
    parse_retry_after,
    rate_limit_delay,
    seconds_until_next_utc_midnight,
)


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


NOW = ts("2024-05-30T18:00:00")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("2024-05-31T00:00:00Z", 6 * 3600.0),  # Zoom's documented form
        ("2024-05-31T00:00:00+00:00", 6 * 3600.0),
        ("2024-05-31T00:00:00", 6 * 3600.0),  # naive means UTC
        ("Fri, 31 May 2024 00:00:00 GMT", 6 * 3600.0),  # RFC 9110 HTTP-date
        ("2024-05-30T17:00:00Z", 0.0),  # already past
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2024-05-30T18:00:00", 6 * 3600.0),
        ("2024-05-30T23:59:59", 1.0),
        ("2024-05-31T00:00:00", 24 * 3600.0),
        ("2024-12-31T12:00:00", 12 * 3600.0),  # year boundary
        ("2024-02-28T23:00:00", 3600.0),  # leap year: Feb 29 follows
    ],
)
def test_seconds_until_next_utc_midnight(now: str, expected: float) -> None:
    assert seconds_until_next_utc_midnight(ts(now)) == expected


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_next_midnight_is_within_a_day_and_lands_on_midnight(now: float) -> None:
    delay = seconds_until_next_utc_midnight(now)
    assert 0 < delay <= 86_400 + 1e-3
    landing = datetime.fromtimestamp(now + delay, tz=UTC)
    assert (landing.hour, landing.minute) == (0, 0) and landing.second in (0, 59)


def test_daily_park_delay_adds_the_margin() -> None:
    assert daily_park_delay(NOW) == 6 * 3600.0 + DEFAULT_DAILY_RESET_MARGIN
    assert daily_park_delay(NOW, margin_seconds=0) == 6 * 3600.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Light", RateLimitCategory.LIGHT),
        ("MEDIUM", RateLimitCategory.MEDIUM),
        ("heavy", RateLimitCategory.HEAVY),
        ("Resource-intensive", RateLimitCategory.RESOURCE_INTENSIVE),
        ("Resource-Intensive", RateLimitCategory.RESOURCE_INTENSIVE),
        ("resource intensive", RateLimitCategory.RESOURCE_INTENSIVE),
        ("Turbo", None),
        (None, None),
    ],
)
def test_category_parse(value: str | None, expected: RateLimitCategory | None) -> None:
    assert RateLimitCategory.parse(value) is expected


def headers(**values: str) -> httpx.Headers:
    return httpx.Headers({k.replace("_", "-"): v for k, v in values.items()})


def test_qps_limit_with_retry_after() -> None:
    h = headers(X_RateLimit_Category="Medium", X_RateLimit_Type="QPS", Retry_After="3")
    assert rate_limit_delay(h, now=NOW) == (3.0, RateLimitCategory.MEDIUM, False)


@pytest.mark.parametrize("category", list(RateLimitCategory))
def test_qps_limit_without_retry_after_waits_per_category(category: RateLimitCategory) -> None:
    h = headers(X_RateLimit_Category=category.value, X_RateLimit_Type="QPS")
    assert rate_limit_delay(h, now=NOW) == (DEFAULT_QPS_WAITS[category], category, False)


def test_unknown_category_uses_the_endpoints_label_then_a_default() -> None:
    h = headers()
    light = RateLimitCategory.LIGHT
    assert rate_limit_delay(h, now=NOW, fallback_category=light) == (
        DEFAULT_QPS_WAITS[light],
        light,
        False,
    )
    assert rate_limit_delay(h, now=NOW) == (DEFAULT_UNKNOWN_CATEGORY_WAIT, None, False)


def test_daily_limit_parks_until_after_midnight() -> None:
    h = headers(X_RateLimit_Category="Heavy", X_RateLimit_Type="Daily-limit")
    delay, category, daily = rate_limit_delay(h, now=NOW)
    assert (delay, category, daily) == (daily_park_delay(NOW), RateLimitCategory.HEAVY, True)


def test_daily_limit_honours_zooms_reset_moment() -> None:
    h = headers(X_RateLimit_Type="Daily-limit", Retry_After="2024-05-31T00:00:00Z")
    delay, _, daily = rate_limit_delay(h, now=NOW)
    assert daily and delay == 6 * 3600.0 + DEFAULT_DAILY_RESET_MARGIN


def test_daily_limit_whose_reset_already_passed_retries_soon() -> None:
    h = headers(X_RateLimit_Type="Daily-limit", Retry_After="2024-05-30T00:00:00Z")
    assert rate_limit_delay(h, now=NOW)[0] == DEFAULT_DAILY_RESET_MARGIN


def test_daily_limit_recognised_from_the_message_alone() -> None:
    message = (
        "You have exceeded the daily rate limit (100) of Meeting Create/Update API requests "
        "permitted for this particular user. You may resume these requests at GMT 00:00:00."
    )
    assert is_daily_limit(headers(), message)
    assert not is_daily_limit(headers(X_RateLimit_Type="QPS"), message)
    assert not is_daily_limit(headers(), "You have reached the maximum per-second rate limit")


def test_absurd_retry_after_is_not_trusted() -> None:
    h = headers(X_RateLimit_Category="Light", Retry_After=str(10 * 86_400))
    assert rate_limit_delay(h, now=NOW) == (2.0, RateLimitCategory.LIGHT, False)


@pytest.mark.parametrize("value", ["0", "-5", "Thu, 01 Jan 2015 00:00:00 GMT"])
def test_a_retry_after_of_zero_or_in_the_past_still_waits(value: str) -> None:
    """Otherwise a 429 becomes a loop of immediate retries."""
    h = headers(X_RateLimit_Category="Light", X_RateLimit_Type="QPS", Retry_After=value)
    assert rate_limit_delay(h, now=NOW) == (MIN_RETRY_AFTER, RateLimitCategory.LIGHT, False)
