"""Write-side actions an app may take on its own account, declared in `ZOOMHOOKS_CONFIG`.

Off unless an app has an `[apps.NAME.actions]` table:

```toml
[apps.marketing.actions]
dry_run = true                         # record what would be done, never call Zoom

[apps.marketing.actions.registrants]   # on webinar.registration_created
allow_domains = ["example.com"]        # approve these (and their subdomains)
deny_domains = ["competitor.example"]  # deny these; deny wins over allow
otherwise = "leave"                    # approve | deny | leave (the rest stay as Zoom set them)

[apps.marketing.actions.meeting_host]  # on meeting.created
schedule_for = "events@example.com"    # reassign every new meeting to this user (email or id)
```

Pure: parsing takes the TOML table, deciding takes the event payload; nothing here calls Zoom.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

REGISTRATION_CREATED = "webinar.registration_created"
MEETING_CREATED = "meeting.created"
_ACTIONS_KEYS = {"dry_run", "registrants", "meeting_host"}
_REGISTRANTS_KEYS = {"allow_domains", "deny_domains", "otherwise"}
_MEETING_HOST_KEYS = {"schedule_for"}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}$")


class ActionsConfigError(ValueError):
    """An `actions` table is unusable; the message says which key and why (no location)."""


class Kind(StrEnum):
    REGISTRANT_APPROVE = "registrant.approve"
    REGISTRANT_DENY = "registrant.deny"
    MEETING_SCHEDULE_FOR = "meeting.schedule_for"


class Otherwise(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    LEAVE = "leave"


@dataclass(frozen=True, slots=True)
class RegistrantRule:
    allow_domains: tuple[str, ...] = ()
    deny_domains: tuple[str, ...] = ()
    otherwise: Otherwise = Otherwise.LEAVE


@dataclass(frozen=True, slots=True)
class MeetingHostRule:
    #: The user (email or Zoom user id) every new meeting is reassigned to.
    schedule_for: str


@dataclass(frozen=True, slots=True)
class Actions:
    dry_run: bool = False
    registrants: RegistrantRule | None = None
    meeting_host: MeetingHostRule | None = None

    @property
    def triggers(self) -> frozenset[str]:
        """The events these actions listen to."""
        found = set()
        if self.registrants is not None:
            found.add(REGISTRATION_CREATED)
        if self.meeting_host is not None:
            found.add(MEETING_CREATED)
        return frozenset(found)


@dataclass(frozen=True, slots=True)
class Planned:
    """One action to take: what, on what, and the request to send (method, path, body)."""

    kind: Kind
    #: What it acts on, for the audit row: "webinar 123 registrant ID <email>", "meeting 456".
    target: str
    method: str
    path: str
    body: Mapping[str, Any]
    #: The rule that asked, for the audit row.
    reason: str


def parse(table: Mapping[str, Any]) -> Actions:
    """The actions of one app from its `actions` table."""
    _known(table, _ACTIONS_KEYS, "")
    dry_run = table.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ActionsConfigError("dry_run must be true or false")
    registrants = None
    if "registrants" in table:
        registrants = _registrants(_table(table, "registrants"))
    meeting_host = None
    if "meeting_host" in table:
        meeting_host = _meeting_host(_table(table, "meeting_host"))
    if registrants is None and meeting_host is None:
        raise ActionsConfigError(
            "declare at least one action: [.registrants] (allow_domains/deny_domains) or "
            "[.meeting_host] (schedule_for)"
        )
    return Actions(dry_run=dry_run, registrants=registrants, meeting_host=meeting_host)


def _table(table: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = table[key]
    if not isinstance(value, dict):
        raise ActionsConfigError(f"{key} must be a table, like [apps.NAME.actions.{key}]")
    return value


def _known(table: Mapping[str, Any], known: set[str], prefix: str) -> None:
    unknown = set(table) - known
    if unknown:
        raise ActionsConfigError(f"{prefix}unknown keys {sorted(unknown)}; known: {sorted(known)}")


def _registrants(table: Mapping[str, Any]) -> RegistrantRule:
    _known(table, _REGISTRANTS_KEYS, "registrants: ")
    allow = _domains(table, "allow_domains")
    deny = _domains(table, "deny_domains")
    both = sorted(set(allow) & set(deny))
    if both:
        raise ActionsConfigError(f"registrants: {both} are in both allow_domains and deny_domains")
    raw = table.get("otherwise", Otherwise.LEAVE.value)
    try:
        otherwise = Otherwise(raw)
    except ValueError:
        raise ActionsConfigError(
            f"registrants: otherwise must be approve, deny or leave, not {raw!r}"
        ) from None
    if not allow and not deny and otherwise is Otherwise.LEAVE:
        raise ActionsConfigError(
            "registrants: give allow_domains, deny_domains or otherwise (nothing would be done)"
        )
    return RegistrantRule(allow, deny, otherwise)


def _domains(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ActionsConfigError(f"registrants: {key} must be a list of domain names")
    found = []
    for raw in value:
        domain = raw.strip().lower().removeprefix("@").rstrip(".")
        if not _DOMAIN.match(domain):
            raise ActionsConfigError(f"registrants: {key} has {raw!r}, which is no domain name")
        found.append(domain)
    return tuple(found)


def _meeting_host(table: Mapping[str, Any]) -> MeetingHostRule:
    _known(table, _MEETING_HOST_KEYS, "meeting_host: ")
    user = table.get("schedule_for")
    if not isinstance(user, str) or not user.strip():
        raise ActionsConfigError(
            "meeting_host: schedule_for must name the new host (an email or a Zoom user id)"
        )
    return MeetingHostRule(user.strip())


def email_domain(email: str) -> str | None:
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain:
        return None
    return domain.lower().rstrip(".")


def _listed(domain: str, domains: tuple[str, ...]) -> bool:
    """`domain` is one of `domains` or a subdomain of one (never a mere suffix: a.bexample.com
    is not example.com's)."""
    return any(domain == d or domain.endswith("." + d) for d in domains)


def decide_registrant(rule: RegistrantRule, email: str) -> tuple[Otherwise, str]:
    """approve, deny or leave the registrant with `email`, and why."""
    domain = email_domain(email)
    if domain is None:
        return rule.otherwise, f"no domain in {email!r}: otherwise = {rule.otherwise.value}"
    if _listed(domain, rule.deny_domains):
        return Otherwise.DENY, f"{domain} is in deny_domains"
    if _listed(domain, rule.allow_domains):
        return Otherwise.APPROVE, f"{domain} is in allow_domains"
    return rule.otherwise, f"{domain} is in neither list: otherwise = {rule.otherwise.value}"


def plan(actions: Actions, event: str, payload: Mapping[str, Any]) -> list[Planned]:
    """The actions an event asks for under `actions` (none for other events)."""
    obj = payload.get("object")
    if not isinstance(obj, Mapping):
        return []
    if event == REGISTRATION_CREATED and actions.registrants is not None:
        return _plan_registrant(actions.registrants, obj)
    if event == MEETING_CREATED and actions.meeting_host is not None:
        return _plan_host(actions.meeting_host, obj)
    return []


def _numeric(value: object) -> str | None:
    """A numeric meeting/webinar id (both endpoints take no UUID), else None."""
    if isinstance(value, bool):
        return None
    text = str(value) if isinstance(value, int | str) else ""
    return text if text.isascii() and text.isdigit() else None


def _plan_registrant(rule: RegistrantRule, obj: Mapping[str, Any]) -> list[Planned]:
    webinar_id, registrant = _numeric(obj.get("id")), obj.get("registrant")
    if webinar_id is None or not isinstance(registrant, Mapping):
        return []
    email, registrant_id = registrant.get("email"), registrant.get("id")
    if not isinstance(email, str):
        return []
    decision, why = decide_registrant(rule, email)
    # Zoom sets the status it chose; acting again on an equal status would only add a call.
    current = {"approved": Otherwise.APPROVE, "denied": Otherwise.DENY}.get(
        str(registrant.get("status", "")).lower()
    )
    if decision is Otherwise.LEAVE or decision is current:
        return []
    who: dict[str, str] = {"email": email}
    if isinstance(registrant_id, str) and registrant_id:
        who["id"] = registrant_id
    kind = Kind.REGISTRANT_APPROVE if decision is Otherwise.APPROVE else Kind.REGISTRANT_DENY
    return [
        Planned(
            kind=kind,
            target=f"webinar {webinar_id} registrant {registrant_id or '-'} <{email}>",
            method="PUT",
            path=f"/webinars/{webinar_id}/registrants/status",
            body={"action": decision.value, "registrants": [who]},
            reason=f"registrants rule: {why}",
        )
    ]


_HOST_IN_TARGET = re.compile(r"\(host (?P<host>[^)]+)\)$")


def host_in_target(target: str) -> str | None:
    """The meeting's host as `_plan_host` wrote it into the target, for error messages."""
    found = _HOST_IN_TARGET.search(target)
    host = found.group("host") if found else None
    return host if host and host != "-" else None


def _plan_host(rule: MeetingHostRule, obj: Mapping[str, Any]) -> list[Planned]:
    meeting_id = _numeric(obj.get("id"))
    if meeting_id is None:
        return []
    host = obj.get("host_email") or obj.get("host_id") or "-"
    if isinstance(host, str) and host.lower() == rule.schedule_for.lower():
        return []
    return [
        Planned(
            kind=Kind.MEETING_SCHEDULE_FOR,
            target=f"meeting {meeting_id} (host {host})",
            method="PATCH",
            path=f"/meetings/{meeting_id}",
            body={"schedule_for": rule.schedule_for},
            reason=f"meeting_host rule: reassign to {rule.schedule_for}",
        )
    ]
