"""Zoom REST API client (Server-to-Server OAuth, sync httpx) for the after-`ended` follow-up work.

Pure parts — `ids`, `endpoints`, `errors`, `ratelimit`, `backoff`, `pagination` — do no I/O;
`transport`, `auth` and `client` do.
"""

from .auth import DEFAULT_OAUTH_URL, TokenManager
from .backoff import RetryPolicy, backoff_delay, not_ready_delay
from .client import DEFAULT_API_BASE_URL, ZoomClient, ZoomResponse
from .endpoints import ENDPOINTS, Endpoint, build_request
from .errors import RULES, Classification, Outcome, Rule, classify
from .exceptions import RateLimited, Throttled, TokenUnavailable, ZoomAPIError, ZoomError
from .ids import encode_path_id
from .pagination import ListingRestarted, Page
from .ratelimit import RateLimitCategory, daily_park_delay, seconds_until_next_utc_midnight
from .tokens import MemoryTokenStore, StoredToken, TokenStore, token_key
from .transport import Pacer

__all__ = [
    "DEFAULT_API_BASE_URL",
    "DEFAULT_OAUTH_URL",
    "ENDPOINTS",
    "RULES",
    "Classification",
    "Endpoint",
    "ListingRestarted",
    "MemoryTokenStore",
    "Outcome",
    "Pacer",
    "Page",
    "RateLimitCategory",
    "RateLimited",
    "RetryPolicy",
    "Rule",
    "StoredToken",
    "Throttled",
    "TokenManager",
    "TokenStore",
    "TokenUnavailable",
    "ZoomAPIError",
    "ZoomClient",
    "ZoomError",
    "ZoomResponse",
    "backoff_delay",
    "build_request",
    "classify",
    "daily_park_delay",
    "encode_path_id",
    "not_ready_delay",
    "seconds_until_next_utc_midnight",
    "token_key",
]
