"""Turning database values into table cells and JSON values. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

#: Where a table cell is cut, with an ellipsis (characters).
DEFAULT_CELL_WIDTH = 60
ELLIPSIS = "…"


def iso(value: datetime | None) -> str | None:
    """Full ISO 8601 in UTC, for JSON."""
    return None if value is None else value.astimezone(UTC).isoformat()


def short_time(value: datetime | None) -> str:
    """`2024-03-01 14:00:05` (UTC, whole seconds), for tables; `-` for nothing."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(delta: timedelta) -> str:
    """`45s`, `4m 02s`, `3h 05m`, `2d 03h`: the two largest units, never negative."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def relative(value: datetime | None, *, now: datetime) -> str:
    """`5m 00s ago`, `in 2h 00m` or `now`; `-` for nothing."""
    if value is None:
        return "-"
    delta = now - value
    if abs(delta) < timedelta(seconds=1):
        return "now"
    return f"{duration(delta)} ago" if delta > timedelta(0) else f"in {duration(-delta)}"


def one_line(text: str | None, width: int = DEFAULT_CELL_WIDTH) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis; `` for nothing."""
    if not text:
        return ""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    return flat[: max(0, width - len(ELLIPSIS))] + ELLIPSIS


def cell(value: Any) -> str:
    """Any database value as a table cell."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return short_time(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def jsonable(value: Any) -> Any:
    """A database value (or a mapping or list of them) as a JSON value: datetimes in ISO 8601."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def glob_to_like(pattern: str, escape: str = "\\") -> str:
    """`webinar.*` → `webinar.%`: `*` matches anything; LIKE's own `%` and `_` are literal."""
    out = []
    for char in pattern:
        if char == "*":
            out.append("%")
        elif char in ("%", "_", escape):
            out.append(escape + char)
        else:
            out.append(char)
    return "".join(out)


def plural(count: int, noun: str) -> str:
    """`1 event`, `2 events`, `0 events`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def describe_range(since: datetime | None, until: datetime | None, *, verb: str) -> str:
    """` received between … and …`, ` received since …`, ` received before …` or ``."""
    if since is not None and until is not None:
        return f" {verb} between {short_time(since)} and {short_time(until)} UTC"
    if since is not None:
        return f" {verb} since {short_time(since)} UTC"
    if until is not None:
        return f" {verb} before {short_time(until)} UTC"
    return ""
