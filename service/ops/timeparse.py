"""Times an operator types: ISO 8601 (UTC when naive) or relative to now (`30m`, `2h`, `7d`).

Pure: `now` is passed in, so the rules are unit-tested without a clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

#: Seconds per unit of a relative time. `m` is minutes (months are not a fixed length).
UNITS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60, "w": 7 * 24 * 60 * 60}

_RELATIVE = re.compile(r"(?:\d+[smhdw])+", re.IGNORECASE)
_PART = re.compile(r"(\d+)([smhdw])", re.IGNORECASE)

HINT = "use ISO 8601 (2024-03-01T14:00Z; UTC if no offset) or a time ago (30m, 2h, 7d, 1h30m)"


def parse_duration(text: str) -> timedelta | None:
    """`30m`, `2h`, `1h30m`, `7d`, `2w` (an optional ` ago` is allowed); None if not one."""
    value = text.strip().lower().removesuffix("ago").strip().replace(" ", "")
    if not _RELATIVE.fullmatch(value):
        return None
    seconds = sum(int(n) * UNITS[unit] for n, unit in _PART.findall(value))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text.strip()!r} is too long ago") from None


def parse_when(text: str, *, now: datetime) -> datetime:
    """An aware UTC datetime for `text`; raises ValueError with a message fit for an operator."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    value = text.strip()
    if not value:
        raise ValueError(f"empty time: {HINT}")
    if value.lower() == "now":
        return now.astimezone(UTC)
    ago = parse_duration(value)
    if ago is not None:
        try:
            return (now - ago).astimezone(UTC)
        except OverflowError:
            raise ValueError(f"{value!r} is too long ago") from None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a time: {HINT}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
