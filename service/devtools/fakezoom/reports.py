"""The registrants listing and the report data of an `Instance`, generated on demand.

Registrants by status, as `GET /webinars/{webinarId}/registrants?status=` lists them:
- `approved`: every participant who is not a guest (registrant id = the participants'
  `registrant_id`), then every absentee (the absentees listing's records): so registrants join
  participants on `registrant_id` and absentees on `id`;
- `pending` and `denied`: `pending_registrants` / `denied_registrants` people who appear in no
  other listing.
Each has two custom questions. Report participants are the participant rows with the report's
extra fields (`customer_key`, `participant_user_id`, `bo_mtg_id` for meetings); `registrant_id`
only with `include_fields=registrant_id`, as Zoom does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from .instance import Instance, zoom_time
from .people import digest, person, zoom_id

#: Person numbers of pending and denied registrants (disjoint from everyone else).
_PENDING_BASE = 30_000_000
_DENIED_BASE = 40_000_000
STATUSES = ("approved", "pending", "denied")
HOPE_QUESTION = "What do you hope to learn?"
HEARD_QUESTION = "How did you hear about this webinar?"
_HOPES = ("Everything ✨", "How it scales", "Best practices, 実例も", "")
_HEARD = ("Newsletter", "A colleague", "Zoom 📣", "Search")

Page = Callable[[int, int], list[dict[str, Any]]]


@lru_cache(maxsize=64)
def _registered_persons(inst: Instance) -> tuple[int, ...]:
    """The participants (person numbers) who registered: every one who is not a guest."""
    return tuple(p for p in range(inst.persons) if not person(inst.seed, p).guest)


def _questions(inst: Instance, salt: str, row: int) -> list[dict[str, str]]:
    h = digest(inst.seed, "answers", row, len(salt))
    return [
        {"title": HOPE_QUESTION, "value": _HOPES[h % len(_HOPES)]},
        {"title": HEARD_QUESTION, "value": _HEARD[(h >> 8) % len(_HEARD)]},
    ]


def registrant(inst: Instance, status: str, row: int) -> dict[str, Any]:
    """Registrant `row` of the `status` listing."""
    if status == "approved":
        registered = _registered_persons(inst)
        if row >= len(registered):
            return inst.absentee(row - len(registered))
        who = person(inst.seed, registered[row])
        return inst.registrant_record(
            "registrant",
            who.number,
            who.registrant_id,
            who.first_name,
            who.last_name,
            who.email,
            "approved",
            _questions(inst, "registrant", who.number),
        )
    base = _PENDING_BASE if status == "pending" else _DENIED_BASE
    who = person(inst.seed, base + row)
    return inst.registrant_record(
        status,
        row,
        zoom_id(inst.seed, status, row),
        who.first_name,
        who.last_name,
        f"{status}{row}@example.com",
        status,
        _questions(inst, status, row),
    )


def registrants(inst: Instance, status: str) -> tuple[int, Page]:
    """(how many, page function) of the `status` listing; nothing without registration."""
    if not inst.registration:
        total = 0
    elif status == "approved":
        total = len(_registered_persons(inst)) + inst.absentees
    else:
        total = inst.pending_registrants if status == "pending" else inst.denied_registrants

    def page(offset: int, limit: int) -> list[dict[str, Any]]:
        return [registrant(inst, status, i) for i in range(offset, min(offset + limit, total))]

    return total, page


def report_participant(inst: Instance, row: int, *, with_registrant: bool) -> dict[str, Any]:
    """Participant row `row` as the participant report serves it."""
    past = inst.participant(row)
    p, _ = inst.person_of_row(row)
    who = person(inst.seed, p)
    body: dict[str, Any] = {
        "customer_key": f"ck{digest(inst.seed, 'customer', p) % 10**8:08d}",
        "duration": past["duration"],
        "failover": past["failover"],
        "id": past["id"],
        "join_time": past["join_time"],
        "leave_time": past["leave_time"],
        "name": past["name"],
        "status": past["status"],
        "user_email": past["user_email"],
        "user_id": past["user_id"],
        "participant_user_id": who.participant_id,
    }
    if with_registrant:
        body["registrant_id"] = past.get("registrant_id", "")
    if inst.kind == "meeting":
        body["bo_mtg_id"] = ""
    return body


def report_page(inst: Instance, *, with_registrant: bool) -> Page:
    def page(offset: int, limit: int) -> list[dict[str, Any]]:
        end = min(offset + limit, inst.participants)
        return [
            report_participant(inst, i, with_registrant=with_registrant) for i in range(offset, end)
        ]

    return page


def report_details(inst: Instance) -> dict[str, Any]:
    """The body of `GET /report/webinars/{webinarId}` or `/report/meetings/{meetingId}`."""
    return {
        "custom_keys": [{"key": "Host Nation", "value": "CH"}],
        "dept": "Developers",
        "duration": inst.duration_minutes,
        "end_time": zoom_time(inst.end_time),
        "id": inst.id,
        "participants_count": inst.persons,
        "start_time": zoom_time(inst.start_time),
        "topic": inst.topic,
        "total_minutes": inst.total_minutes,
        "tracking_fields": [{"field": "Campaign", "value": "Q1 ✨"}],
        "type": 5 if inst.kind == "webinar" else 2,
        "user_email": inst.host.get("email", ""),
        "user_name": inst.host.get("name", ""),
        "uuid": inst.uuid,
    }
