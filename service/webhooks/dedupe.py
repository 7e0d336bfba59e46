"""A stable identity for a Zoom event, since Zoom sends no event id.

A redelivery carries the same body (possibly with keys in another order) under a new timestamp
and signature, so the key hashes the decoded event in canonical form. A few fields differ between
deliveries of one logical event and are left out; everything else, including `event_ts` and the
participant's ids, stays in, so two participants joining in the same millisecond stay distinct.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: Fields that Zoom mints afresh on every delivery of the same event (recording.completed).
VOLATILE_KEYS = frozenset({"download_token", "download_url", "download_access_token"})
KEY_LENGTH = 64
#: Canonical JSON: sorted keys, compact, UTF-8 as is. One encoder for every call (json.dumps
#: with options builds a new one each time).
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True
)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def dedupe_key(data: dict[str, Any]) -> str:
    """The hex SHA-256 of the event's canonical JSON without the volatile fields."""
    canonical = _CANONICAL.encode(_strip(data))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
