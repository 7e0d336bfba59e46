"""The Zoom error bodies the fake sends, as data.

Zoom API errors are `{"code": <int>, "message": <str>}` with an HTTP status; clients key on the
pair (status, code), so every code here is one Zoom documents or is seen returning:

- 124 (401) "Invalid access token." / "Access token is expired." — both seen from live Zoom; the
  fake sends the second for a token past its lifetime, the first for anything else.
- 300 (400) "The next page token is invalid or expired." — the spec's 400 text for
  `GET /past_webinars/{webinarId}/participants`.
- 3001 (404) — the spec's "does not exist" / "is invalid or not end" texts. Zoom sends the same
  code for an unknown ID and for an instance that has not ended (its data not ready yet).
- 3000 (400) "This Webinar has not registration required: {uuid}" — the spec's text for
  absentees of a webinar without registration (sic, Zoom's grammar).
- 12702 (400) "Can not access a meeting a year ago." — the spec's text (past data expired).
- 4711/4700 (400) "Invalid access token, does not contain scopes:[...]." — missing scopes, as
  seen from live Zoom; 3003, 3000, 200, 1010 (400) — the spec's permission texts.
- 429 — Zoom's per-second and daily rate-limit texts.

OAuth (`/oauth/token`) errors have another shape: `{"reason": <str>, "error": <str>}`.

Requests the fake cannot take as a real client's are answered with codes Zoom never uses
(`SPEC_VIOLATION_CODE`, `NOT_IMPLEMENTED_CODE`), so a client bug fails loudly instead of being
mistaken for a Zoom condition a client would retry or skip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["webinar", "meeting"]

#: Code of a 400 for a request that does not match the OpenAPI spec (not a Zoom code).
SPEC_VIOLATION_CODE = 99400
#: Code of a 501 for a spec operation that the fake does not serve (not a Zoom code).
NOT_IMPLEMENTED_CODE = 99501


@dataclass(frozen=True, slots=True)
class ZoomError:
    """One Zoom API error: HTTP status, Zoom `code`, and `message`."""

    status: int
    code: int
    message: str

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


INVALID_ACCESS_TOKEN = ZoomError(401, 124, "Invalid access token.")
EXPIRED_ACCESS_TOKEN = ZoomError(401, 124, "Access token is expired.")
PAGE_TOKEN_INVALID = ZoomError(400, 300, "The next page token is invalid or expired.")
NO_PERMISSION = ZoomError(400, 200, "No permission.")
NOT_HOST = ZoomError(400, 3003, "You are not the meeting host.")

#: Messages of the permission-style errors the PERMISSION fault can send, by code.
PERMISSION_MESSAGES: dict[int, str] = {
    4711: "Invalid access token, does not contain scopes:[{scopes}].",
    4700: "Invalid access token, does not contain scopes:[{scopes}].",
    3003: NOT_HOST.message,
    3000: "Cannot access webinar info.",
    200: NO_PERMISSION.message,
    1010: "User does not belong to this account:{account_id}.",
}

RATE_LIMIT_QPS_MESSAGE = (
    "You have reached the maximum per-second rate limit for this API. Try again later."
)
RATE_LIMIT_DAILY_MESSAGE = (
    "You have exceeded the daily rate limit ({limit}) of {category} API requests permitted for "
    "this particular account. You may resume these requests at GMT 00:00:00."
)


def not_found(kind: Kind, ident: str) -> ZoomError:
    """3001 for an ID or UUID that names no past instance of that kind."""
    if kind == "webinar":
        return ZoomError(404, 3001, f"Webinar does not exist: {ident}.")
    return ZoomError(404, 3001, f"Meeting does not exist: {ident}.")


def not_ended(kind: Kind) -> ZoomError:
    """3001 as Zoom sends it for an instance whose past data is not ready yet."""
    noun = "Webinar" if kind == "webinar" else "Meeting"
    return ZoomError(404, 3001, f"{noun} ID is invalid or not end.")


def too_old(kind: Kind) -> ZoomError:
    """12702: Zoom keeps past-instance data for a limited time."""
    return ZoomError(400, 12702, f"Can not access a {kind} a year ago.")


def registration_not_required(uuid: str) -> ZoomError:
    """3000: absentees exist only for webinars that require registration."""
    return ZoomError(400, 3000, f"This Webinar has not registration required: {uuid}")


def permission(code: int, *, scopes: str = "", account_id: str = "") -> ZoomError:
    template = PERMISSION_MESSAGES.get(code, NO_PERMISSION.message)
    return ZoomError(400, code, template.format(scopes=scopes, account_id=account_id))


def spec_violation(message: str, **detail: Any) -> tuple[int, dict[str, Any]]:
    """A 400 naming the client bug; `fakezoom` carries machine-readable detail."""
    body = {
        "code": SPEC_VIOLATION_CODE,
        "message": f"fakezoom: request does not match the Zoom API spec: {message}",
        "fakezoom": detail,
    }
    return 400, body


def oauth_error(error: str, reason: str) -> dict[str, str]:
    return {"reason": reason, "error": error}
