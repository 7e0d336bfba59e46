"""Zoom's Server-to-Server OAuth token endpoint, as the fake checks and answers it.

`POST /oauth/token` with `grant_type=account_credentials` and `account_id` (query string or form
body) and HTTP Basic `client_id:client_secret`. Errors have Zoom's OAuth shape
`{"reason": ..., "error": ...}`, all HTTP 400 as Zoom sends them (wrong credentials give
`invalid_client` "Invalid client_id or client_secret", as seen from live Zoom). API requests
carry the token as `Authorization: Bearer ...` (`check_bearer`).

The fake knows several accounts (`FakeAccount`), each with its own app credentials: a client's
credentials get tokens only for that client's account.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import errors
from .tokens import AccessToken, AccessTokens


@dataclass(frozen=True, slots=True)
class FakeAccount:
    """A Zoom account and the client credentials of its Server-to-Server OAuth app."""

    account_id: str
    client_id: str
    client_secret: str


def index_accounts(accounts: Iterable[FakeAccount]) -> dict[str, FakeAccount]:
    """Accounts by client_id; a client_id names one app, so a repeated one is an error."""
    by_client: dict[str, FakeAccount] = {}
    for account in accounts:
        if account.client_id in by_client:
            raise ValueError(f"two accounts have client_id {account.client_id!r}")
        by_client[account.client_id] = account
    return by_client


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """The verdict on a token request: `(200, {})` or Zoom's OAuth error, and the account
    whose credentials and `account_id` the request names (even if it is refused otherwise)."""

    status: int
    body: dict[str, str]
    account: FakeAccount | None


def check_token_request(
    authorization: str, params: Mapping[str, str], accounts: Mapping[str, FakeAccount]
) -> TokenCheck:
    """Check an account_credentials request against `accounts` (by client_id)."""
    account = None
    credentials = _basic_credentials(authorization)
    if credentials is not None:
        known = accounts.get(credentials[0])
        if known is not None and known.client_secret == credentials[1]:
            account = known
    named = account if account and params.get("account_id") == account.account_id else None

    def refuse(error: str, reason: str) -> TokenCheck:
        return TokenCheck(400, errors.oauth_error(error, reason), named)

    grant_type = params.get("grant_type")
    if not grant_type:
        return refuse("invalid_request", "Missing grant type")
    if grant_type != "account_credentials":
        return refuse("unsupported_grant_type", "Unsupported grant type")
    if credentials is None:
        return refuse("invalid_request", "Client ID or client secret is missing.")
    if account is None:
        return refuse("invalid_client", "Invalid client_id or client_secret")
    if named is None:
        return refuse("invalid_request", "Invalid account_id")
    return TokenCheck(200, {}, named)


def check_bearer(
    authorization: str, tokens: AccessTokens
) -> tuple[errors.ZoomError | None, AccessToken | None]:
    """The 401 an API request's `Authorization` header earns (None: it may pass), and its
    token if that is valid."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return errors.INVALID_ACCESS_TOKEN, None
    state, token = tokens.lookup(value.strip())
    if state == "valid":
        return None, token
    return errors.EXPIRED_ACCESS_TOKEN if state == "expired" else errors.INVALID_ACCESS_TOKEN, None


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    scheme, _, encoded = authorization.partition(" ")
    try:
        given_id, sep, given_secret = (
            base64.b64decode(encoded, validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    if scheme.lower() != "basic" or not sep:
        return None
    return given_id, given_secret


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
