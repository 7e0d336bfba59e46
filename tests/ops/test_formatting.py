"""Cells and JSON values from database values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.ops.formatting import (
    cell,
    describe_range,
    duration,
    glob_to_like,
    iso,
    jsonable,
    one_line,
    plural,
    relative,
    short_time,
)

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45.9), "45s"),
        (timedelta(minutes=4, seconds=2), "4m 02s"),
        (timedelta(hours=3, minutes=5, seconds=59), "3h 05m"),
        (timedelta(days=2, hours=3, minutes=1), "2d 03h"),
        (timedelta(days=400), "400d 00h"),
        (timedelta(seconds=-5), "0s"),
    ],
)
def test_duration_shows_the_two_largest_units(delta: timedelta, text: str) -> None:
    assert duration(delta) == text


def test_relative_says_ago_or_in() -> None:
    assert relative(NOW - timedelta(minutes=5), now=NOW) == "5m 00s ago"
    assert relative(NOW + timedelta(hours=2), now=NOW) == "in 2h 00m"
    assert relative(NOW, now=NOW) == "now"
    assert relative(None, now=NOW) == "-"


def test_times_are_shown_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2024, 3, 1, 14, 0, 5, 123, tzinfo=plus_two)
    assert short_time(local) == "2024-03-01 12:00:05"
    assert iso(local) == "2024-03-01T12:00:05.000123+00:00"
    assert short_time(None) == "-"
    assert iso(None) is None


def test_one_line_flattens_and_cuts() -> None:
    assert one_line("a\n  b\tc") == "a b c"
    assert one_line("x" * 10, 5) == "xxxx…"
    assert len(one_line("y" * 100)) == 60
    assert one_line("short", 5) == "short"
    assert one_line(None) == ""


def test_cells() -> None:
    assert cell(None) == "-"
    assert cell(3) == "3"
    assert cell(True) == "yes"
    assert cell(NOW) == "2024-03-01 12:00:00"
    assert cell("[bold]x[/]") == "[bold]x[/]"


def test_jsonable_converts_nested_datetimes() -> None:
    value = {"at": NOW, "rows": [{"when": NOW, "n": 1}], "gap": timedelta(seconds=90), "x": None}
    assert jsonable(value) == {
        "at": "2024-03-01T12:00:00+00:00",
        "rows": [{"when": "2024-03-01T12:00:00+00:00", "n": 1}],
        "gap": 90.0,
        "x": None,
    }


@pytest.mark.parametrize(
    ("glob", "like"),
    [
        ("webinar.*", "webinar.%"),
        ("*.ended", "%.ended"),
        ("meeting.participant_joined", "meeting.participant\\_joined"),
        ("100%", "100\\%"),
        ("a\\b", "a\\\\b"),
    ],
)
def test_glob_to_like_escapes_like_wildcards(glob: str, like: str) -> None:
    assert glob_to_like(glob) == like


def test_plural_and_ranges() -> None:
    assert plural(1, "event") == "1 event"
    assert plural(0, "event") == "0 events"
    assert describe_range(None, None, verb="received") == ""
    assert describe_range(NOW, None, verb="received") == " received since 2024-03-01 12:00:00 UTC"
    assert describe_range(None, NOW, verb="created") == " created before 2024-03-01 12:00:00 UTC"
    assert describe_range(NOW - timedelta(days=1), NOW, verb="received") == (
        " received between 2024-02-29 12:00:00 and 2024-03-01 12:00:00 UTC"
    )
