"""Meeting and webinar identifiers as they must appear in a Zoom API path.

Zoom accepts either the numeric ID (the latest instance) or the instance UUID, a base64 string
that may contain `/`, `+` and `=`. Its gateway decodes the path once before routing, so a UUID
that starts with `/` or contains `//` would still carry an empty path segment after that decode:
Zoom documents that such UUIDs must be encoded twice. All other UUIDs are encoded once.
"""

from __future__ import annotations

from urllib.parse import quote


def needs_double_encoding(uuid: str) -> bool:
    """Zoom's rule: a UUID that begins with `/` or contains `//` is double-encoded."""
    return uuid.startswith("/") or "//" in uuid


def is_numeric_id(value: int | str) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return value.isascii() and value.isdigit()


def encode_path_id(value: int | str) -> str:
    """The path segment for a meeting/webinar ID or UUID.

    Numeric IDs are used as they are; UUIDs are percent-encoded once, or twice when
    `needs_double_encoding` says so. Raises `ValueError` for an empty or negative ID and
    `TypeError` for anything but `int` or `str`.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"a meeting/webinar ID must be int or str, not {type(value).__name__}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a numeric meeting/webinar ID cannot be negative")
        return str(value)
    if not value:
        raise ValueError("a meeting/webinar ID cannot be empty")
    if is_numeric_id(value):
        return value
    once = quote(value, safe="")
    return quote(once, safe="") if needs_double_encoding(value) else once
