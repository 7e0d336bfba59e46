"""How a meeting/webinar ID or instance UUID travels in a URL path segment.

Zoom's rule: a UUID that begins with `/` or contains `//` must be URL-encoded twice
(`/abc//d==` -> `%252Fabc%252F%252Fd%253D%253D`); any other UUID is encoded once
(`Bznyg8KZTdCVbQxvS/oZ7w==` -> `Bznyg8KZTdCVbQxvS%2FoZ7w%3D%3D`). The fake decodes the raw
segment once and, if escapes remain, once more (a base64 UUID never contains `%`, so this is
unambiguous). Encoding twice when once would do is accepted, as Zoom's second decode is then a
no-op; a UUID that needed two encodings but got one is reported so the caller can answer 3001.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote


def needs_double_encoding(uuid: str) -> bool:
    return uuid.startswith("/") or "//" in uuid


def encode_path_id(ident: str | int) -> str:
    """The path segment a correct client sends for `ident` (a numeric ID or a UUID)."""
    text = str(ident)
    once = quote(text, safe="")
    return quote(once, safe="") if needs_double_encoding(text) else once


@dataclass(frozen=True, slots=True)
class PathId:
    """A decoded path segment: `value` is the ID or UUID, `encodings` how often it was encoded."""

    value: str
    encodings: int

    @property
    def is_numeric(self) -> bool:
        return self.value.isascii() and self.value.isdigit()

    @property
    def under_encoded(self) -> bool:
        """True when the UUID needed double encoding but arrived encoded once (or not at all)."""
        return needs_double_encoding(self.value) and self.encodings < 2


def decode_path_id(raw_segment: str) -> PathId:
    """Decode one raw (still percent-encoded) path segment the way the fake's Zoom does."""
    once = unquote(raw_segment, errors="strict")
    if "%" in once:
        return PathId(unquote(once, errors="strict"), 2)
    return PathId(once, 1 if once != raw_segment else 0)
