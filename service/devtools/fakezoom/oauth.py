"""Zoom's Server-to-Server OAuth token endpoint, as the fake checks and answers it.

`POST /oauth/token` with `grant_type=account_credentials` and `account_id` (query string or form
body) and HTTP Basic `client_id:client_secret`. Errors have Zoom's OAuth shape
`{"reason": ..., "error": ...}`, all HTTP 400 as Zoom sends them (wrong credentials give
`invalid_client` "Invalid client_id or client_secret", as seen from live Zoom).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from . import errors
from .tokens import AccessToken


def check_token_request(
    authorization: str,
    params: Mapping[str, str],
    *,
    client_id: str,
    client_secret: str,
    account_id: str,
) -> tuple[int, dict[str, str]]:
    """(200, {}) for a good account_credentials request, else Zoom's OAuth error."""
    grant_type = params.get("grant_type")
    if not grant_type:
        return 400, errors.oauth_error("invalid_request", "Missing grant type")
    if grant_type != "account_credentials":
        return 400, errors.oauth_error("unsupported_grant_type", "Unsupported grant type")
    scheme, _, encoded = authorization.partition(" ")
    try:
        given_id, sep, given_secret = (
            base64.b64decode(encoded, validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        sep = ""
    if scheme.lower() != "basic" or not sep:
        return 400, errors.oauth_error("invalid_request", "Client ID or client secret is missing.")
    if (given_id, given_secret) != (client_id, client_secret):
        return 400, errors.oauth_error("invalid_client", "Invalid client_id or client_secret")
    if params.get("account_id") != account_id:
        return 400, errors.oauth_error("invalid_request", "Invalid account_id")
    return 200, {}


def token_body(
    token: AccessToken, lifetime: float, scopes: Sequence[str], api_url: str
) -> dict[str, Any]:
    """The 200 body; `expires_in` is one second short of the lifetime, like Zoom's 3599."""
    return {
        "access_token": token.value,
        "token_type": "bearer",
        "expires_in": max(int(lifetime) - 1, 0),
        "scope": " ".join(scopes),
        "api_url": api_url,
    }
