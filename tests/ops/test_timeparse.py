"""Times as operators type them: ISO 8601 (UTC when naive) or relative."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.ops.timeparse import parse_duration, parse_when

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 2H ", timedelta(hours=2)),
        ("2h ago", timedelta(hours=2)),
        ("1d 6h", timedelta(days=1, hours=6)),
        ("0m", timedelta(0)),
    ],
)
def test_relative_times_count_back_from_now(text: str, ago: timedelta) -> None:
    assert parse_when(text, now=NOW) == NOW - ago


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-02-29T10:00:00", datetime(2024, 2, 29, 10, tzinfo=UTC)),  # naive: UTC
        ("2024-02-29T10:00:00Z", datetime(2024, 2, 29, 10, tzinfo=UTC)),
        ("2024-02-29T11:00:00+01:00", datetime(2024, 2, 29, 10, tzinfo=UTC)),
        ("2024-02-29 10:00", datetime(2024, 2, 29, 10, tzinfo=UTC)),
        ("2024-02-29", datetime(2024, 2, 29, tzinfo=UTC)),
        ("2024-02-29T10:00:00.250-05:00", datetime(2024, 2, 29, 15, 0, 0, 250_000, tzinfo=UTC)),
        ("now", NOW),
    ],
)
def test_iso_8601_in_any_offset_comes_out_in_utc(text: str, expected: datetime) -> None:
    parsed = parse_when(text, now=NOW)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["", "  ", "yesterday", "2h30", "h", "-2h", "2 hours", "2024-13-01", "3mo", "1.5h"]
)
def test_anything_else_is_refused_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match=r"ISO 8601|empty"):
        parse_when(text, now=NOW)


def test_absurdly_long_ago_is_refused_not_crashed() -> None:
    with pytest.raises(ValueError, match="too long ago"):
        parse_when("99999999d", now=NOW)
    with pytest.raises(ValueError, match="too long ago"):
        parse_when("999999999999999w", now=NOW)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("2h", now=datetime(2024, 3, 1))


def test_parse_duration_only_reads_relative_forms() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("2024-03-01") is None
    assert parse_duration("") is None


def test_other_zones_are_converted() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert parse_when("2024-03-01T09:00:00+09:00", now=NOW.astimezone(tokyo)) == datetime(
        2024, 3, 1, 0, tzinfo=UTC
    )
