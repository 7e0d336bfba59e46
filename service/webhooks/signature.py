"""Zoom's webhook signature (v0) and the URL-validation challenge.

Zoom signs `"v0:" + x-zm-request-timestamp + ":" + raw_body` with HMAC-SHA256 keyed by the app's
secret token. The bytes must be the ones received: re-serialised JSON changes key order, spacing
and escapes, and so the signature.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
SIGNATURE_VERSION = "v0"
#: Longest timestamp accepted, in digits: seconds since the epoch stay 10 digits until 2286.
MAX_TIMESTAMP_DIGITS = 12


class SignatureError(Exception):
    """The request is not provably from Zoom. `reason` is short and safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Verified:
    """A request whose signature matched `secret` (the one that must answer a URL validation)."""

    secret: bytes
    timestamp: int


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The `x-zm-signature` value Zoom sends for `body` at `timestamp`."""
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    return SIGNATURE_VERSION + "=" + hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify(
    *,
    secrets: Sequence[bytes],
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: float,
    tolerance_seconds: int,
    future_skew_seconds: int,
) -> Verified:
    """Check the signature against every secret (rotation) and the timestamp window.

    Raises `SignatureError` unless one secret matches and the timestamp lies within
    `[now - tolerance_seconds, now + future_skew_seconds]`.
    """
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    if not timestamp:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a Unix time in seconds")
    sent_at = int(timestamp)
    if sent_at < now - tolerance_seconds:
        raise SignatureError(f"{TIMESTAMP_HEADER} is too old")
    if sent_at > now + future_skew_seconds:
        raise SignatureError(f"{TIMESTAMP_HEADER} is in the future")
    given = signature.strip().encode("utf-8", "surrogateescape")
    matched: bytes | None = None
    # Every secret is tried, so timing does not tell which one (or whether a later one) matched.
    for secret in secrets:
        expected = sign(secret, timestamp, body).encode("ascii")
        if hmac.compare_digest(expected, given) and matched is None:
            matched = secret
    if matched is None:
        raise SignatureError(f"{SIGNATURE_HEADER} does not match")
    return Verified(secret=matched, timestamp=sent_at)


def url_validation_response(secret: bytes, plain_token: str) -> dict[str, str]:
    """Zoom's challenge answer: `encryptedToken = hex(HMAC_SHA256(secret, plainToken))`."""
    encrypted = hmac.new(secret, plain_token.encode("utf-8"), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}
