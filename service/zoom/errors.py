"""Zoom's errors as data: (HTTP status, Zoom code, message pattern) → outcome and advice.

Zoom answers errors with `{"code": <int>, "message": <str>}`; the code, not the status, says
what went wrong, and one code can mean several things (300 is both "next page token is invalid
or expired" and "Cannot access meeting information"), hence the message patterns. The first
matching rule wins, so specific rules come before general ones.

Sources for the codes and messages:
- Zoom Meeting API OpenAPI, 2023-10 copy (`/work/shared/zoom-openapi`), error sections of
  listWebinarParticipants (200 "No permission.", 300 "The next page token is invalid or
  expired.", 3001 "Webinar does not exist."), pastMeetingDetails (12702 "Can not access a meeting
  a year ago.", 3001 "The meeting ID is invalid or the meeting has not ended."), webinarAbsentees
  (3000 "This Webinar has not registration required"), listPastWebinarQA (3001 "Webinar ID is
  invalid or not end.", 1010 "User does not belong to this account").
- https://developers.zoom.us/docs/api/errors (4700 "Invalid access token, does not contain
  scopes"); report endpoints on the same reference (12702 "Can not access a webinar a year ago.").
- https://developers.zoom.us/docs/meeting-sdk/web/error-codes (3001 "Meeting does not exist.",
  3003 "Not meeting host.").
- devforum.zoom.us: /t/95559 and /t/74432 (401 `{"code":124,"message":"Invalid access token."}`),
  /t/111305 (104 "Invalid access token, does not contain scopes:[...]"), /t/129457 (3000 "You
  cannot schedule a meeting for <user>." from a Server-to-Server app setting `schedule_for`).
- github.com/JubaerHossain/zoom-laravel issue 15 (400 `{"code":4711,"message":"Invalid access
  token, does not contain scopes:[user:read:list_users:admin]."}`).
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from enum import StrEnum

from .endpoints import Endpoint


class Outcome(StrEnum):
    #: Zoom does not have the data yet (3001/404 shortly after `ended`): re-fetch later.
    NOT_READY = "not_ready"
    #: The app, its owner or the account lacks a scope, role or plan: an operator must act.
    PERMISSION = "permission"
    #: The data cannot exist for this object (absentees of a webinar without registration).
    NOT_APPLICABLE = "not_applicable"
    #: Zoom no longer serves data this old: fail, never retry.
    TOO_OLD = "too_old"
    #: The access token was refused: renew it once and retry.
    TOKEN_EXPIRED = "token_expired"  # noqa: S105
    #: The listing's `next_page_token` expired (15 min): restart from the first page.
    PAGE_TOKEN_EXPIRED = "page_token_expired"  # noqa: S105
    #: HTTP 429: wait as told, without spending the normal retry budget.
    RATE_LIMITED = "rate_limited"
    #: Zoom or the network failed: retry with backoff.
    TRANSIENT = "transient"
    #: Anything else: a bug or bad input; retrying will not help.
    FATAL = "fatal"


@dataclass(frozen=True, slots=True)
class Rule:
    outcome: Outcome
    #: HTTP statuses matched; None matches any.
    statuses: Container[int] | None
    #: Zoom's body `code`; None matches any (including no code at all).
    code: int | None
    #: Regular expression searched (case-insensitive) in Zoom's message; None matches any.
    pattern: str | None
    #: Operator-facing explanation. Fields: {endpoint}, {scopes}, {missing}, {message}.
    advice: str

    def matches(self, status: int, code: int | None, message: str) -> bool:
        if self.statuses is not None and status not in self.statuses:
            return False
        if self.code is not None and code != self.code:
            return False
        return self.pattern is None or re.search(self.pattern, message, re.IGNORECASE) is not None


_SCOPES_ADVICE = (
    "The Server-to-Server OAuth app lacks a scope (Zoom: {message!r}). Missing per Zoom: "
    "{missing}. {endpoint} needs {scopes}. Add it under the app's Scopes in the Zoom App "
    "Marketplace; tokens issued before the change keep the old scopes for up to an hour."
)

_ANY_5XX = range(500, 600)

# Columns: outcome, HTTP statuses (None: any), Zoom code (None: any), message pattern (None: any).
# fmt: off
RULES: tuple[Rule, ...] = (
    Rule(Outcome.RATE_LIMITED, {429}, None, None,
         "Zoom's rate limit for {endpoint} was hit (Zoom: {message!r}); retried after the delay "
         "Zoom asked for, or after 00:00 UTC for a daily quota."),
    # Scope errors come as 4700, 4711 or even 104 with the same text; a new token cannot help.
    Rule(Outcome.PERMISSION, None, None, r"does not contain scopes", _SCOPES_ADVICE),
    Rule(Outcome.TOKEN_EXPIRED, None, 124, None,
         "Zoom refused the access token (124 {message!r}); it is renewed once and the call "
         "retried. If this persists, check that the app is activated and that no other system "
         "uses the same client credentials (a new token may invalidate older ones)."),
    Rule(Outcome.PAGE_TOKEN_EXPIRED, None, 300, r"next[ _]page[ _]token",
         "The listing's next_page_token expired (it lives 15 minutes); the listing is restarted "
         "from its first page."),
    Rule(Outcome.TOO_OLD, None, 12702, None,
         "Zoom no longer serves this data (12702 {message!r}): past meetings and webinars are "
         "only reachable for a limited time. Not retried."),
    Rule(Outcome.NOT_APPLICABLE, None, None,
         r"registration (is )?not (enabled|required)|not registration required",
         "The webinar has no registration, so it has no absentees (Zoom: {message!r})."),
    Rule(Outcome.PERMISSION, None, 3000, r"schedul",
         "Zoom refused to act for another host (3000 {message!r}). A Server-to-Server OAuth app "
         "acts as the user who created it; setting schedule_for or reassigning a meeting's host "
         "needs that user to hold a role with the Meetings/Webinars edit privilege for all users "
         "(Admin > User Management > Roles), or scheduling privilege as the host's assistant. "
         "No OAuth scope fixes this."),
    Rule(Outcome.NOT_READY, None, 3001, None,
         "Zoom does not know this meeting/webinar as ended yet (3001 {message!r}); re-fetched "
         "later with growing delays. If it never appears, the ID is wrong or belongs to another "
         "account."),
    Rule(Outcome.PERMISSION, None, 4700, None, _SCOPES_ADVICE),
    Rule(Outcome.PERMISSION, None, 4711, None, _SCOPES_ADVICE),
    Rule(Outcome.PERMISSION, None, 200, None,
         "Zoom denied {endpoint} (200 {message!r}): the account needs a paid plan (and the "
         "Webinar add-on for webinars) and the app's creator an admin role that can view all "
         "users' meetings, webinars and reports. Scopes wanted: {scopes}."),
    Rule(Outcome.PERMISSION, None, 300, r"cannot access",
         "Zoom denied {endpoint} (300 {message!r}): the app's creator cannot see this meeting; "
         "give them an admin role covering all users."),
    Rule(Outcome.PERMISSION, None, 3000, None,
         "Zoom denied {endpoint} (3000 {message!r}): the app's creator cannot access this "
         "meeting/webinar; give them a role covering all users' meetings and webinars."),
    Rule(Outcome.PERMISSION, None, 3003, None,
         "Zoom denied {endpoint} (3003 {message!r}): the app's creator is not the host and has "
         "no admin role over the host."),
    Rule(Outcome.PERMISSION, None, 1010, None,
         "Zoom says the host is not in this app's account (1010 {message!r}): the webhook and "
         "the app belong to different accounts."),
    Rule(Outcome.FATAL, None, 1001, None,
         "Zoom says the user does not exist (1001 {message!r})."),
    Rule(Outcome.TOKEN_EXPIRED, {401}, None, None,
         "Zoom answered 401 for {endpoint} (Zoom: {message!r}); the token is renewed once. If "
         "it persists, check the app's account ID, client ID and secret, and its activation."),
    Rule(Outcome.PERMISSION, {403}, None, None,
         "Zoom answered 403 for {endpoint} (Zoom: {message!r}): a scope, role or shared access "
         "permission is missing. Scopes wanted: {scopes}."),
    Rule(Outcome.NOT_READY, {404}, None, None,
         "Zoom answered 404 for {endpoint} (Zoom: {message!r}); shortly after `ended` this means "
         "the data is not ready, so it is re-fetched later with growing delays."),
    Rule(Outcome.TRANSIENT, _ANY_5XX, None, None,
         "Zoom failed with a server error on {endpoint} (Zoom: {message!r}); retried with "
         "backoff."),
    Rule(Outcome.FATAL, None, None, None,
         "Zoom rejected the call to {endpoint} (Zoom: {message!r}); retrying will not help."),
)
# fmt: on

_SCOPE_LIST = re.compile(r"scopes?\s*:?\s*\[([^\]]*)\]", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Classification:
    outcome: Outcome
    rule: Rule
    #: The rule's advice with its fields filled in: safe to log and to show an operator.
    advice: str
    #: Scopes Zoom named as missing, if any.
    missing_scopes: tuple[str, ...]


def missing_scopes(message: str) -> tuple[str, ...]:
    """The scopes in `...does not contain scopes:[a, b]` (quoted or not), in order."""
    found = _SCOPE_LIST.search(message)
    if not found:
        return ()
    names = (part.strip().strip("\"'") for part in found.group(1).split(","))
    return tuple(name for name in names if name)


def classify(
    status: int,
    code: int | None,
    message: str,
    *,
    endpoint: Endpoint | None = None,
    rules: tuple[Rule, ...] = RULES,
) -> Classification:
    """The outcome of an error response. `rules` must end with a catch-all (RULES does)."""
    rule = next(r for r in rules if r.matches(status, code, message))
    missing = missing_scopes(message)
    advice = rule.advice.format(
        endpoint=endpoint.name if endpoint else "the Zoom API",
        scopes=endpoint.required_scopes()
        if endpoint
        else "the scopes in service/zoom/endpoints.py",
        missing=", ".join(missing) if missing else "(not named)",
        message=message,
    )
    return Classification(rule.outcome, rule, advice, missing)


@dataclass(frozen=True, slots=True)
class ActionFix:
    """The exact fix for a permission error of a write-side action, as data."""

    #: Zoom's body `code`; None matches any.
    code: int | None
    #: Regular expression searched (case-insensitive) in Zoom's message; None matches any.
    pattern: str | None
    #: Fields: {actor} (the user the app acts as), {target} (the user acted for), {message},
    #: {missing} (scopes Zoom named), {scopes} (what the endpoint needs).
    fix: str


# Zoom: "You cannot schedule a meeting for <user>" (devforum.zoom.us/t/129457); scheduling
# privilege is granted by the user scheduled for (web portal: Settings > Meeting > Other >
# Schedule Privilege), or replaced by an admin role with Meetings "Edit" for all users.
# fmt: off
ACTION_FIXES: tuple[ActionFix, ...] = (
    ActionFix(3000, r"schedul",
              "Zoom refused to schedule for {target} (3000 {message!r}): {actor} lacks the "
              "scheduling privilege for {target}. Fix: sign in to the Zoom web portal as {target}, "
              "Settings > Meeting > Other > Schedule Privilege, and add {actor}; or give {actor} "
              "a role with Meetings 'Edit' for all users (Admin > User Management > Roles). "
              "No OAuth scope fixes this."),
    ActionFix(None, r"does not contain scopes",
              "The app lacks a scope (Zoom: {message!r}). Grant {missing} in the Zoom App "
              "Marketplace (Manage > the app > Scopes); this call needs {scopes}. Tokens issued "
              "before the change keep the old scopes for up to an hour."),
    ActionFix(4711, None,
              "The app lacks a scope (4711 {message!r}). Grant {missing} in the Zoom App "
              "Marketplace (Manage > the app > Scopes); this call needs {scopes}."),
    ActionFix(3003, None,
              "Zoom says {actor} is not the host and may not change it (3003 {message!r}). Fix: "
              "give {actor} a role with Meetings/Webinars 'Edit' for all users (Admin > User "
              "Management > Roles), or make {actor} an alternative host of {target}."),
)
# fmt: on


def action_fix(
    code: int | None,
    message: str,
    *,
    actor: str,
    target: str,
    endpoint: Endpoint | None = None,
) -> str | None:
    """The exact fix for an action's permission error, naming both users; None: not one."""
    for entry in ACTION_FIXES:
        if entry.code is not None and code != entry.code:
            continue
        if entry.pattern is not None and not re.search(entry.pattern, message, re.IGNORECASE):
            continue
        missing = missing_scopes(message)
        return entry.fix.format(
            actor=actor,
            target=target,
            message=message,
            missing=", ".join(missing) if missing else "the scope the message names",
            scopes=endpoint.required_scopes() if endpoint else "its scopes",
        )
    return None
