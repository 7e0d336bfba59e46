"""Row shaping: Zoom's JSON (webhooks and REST records) into table rows. Pure, no I/O.

Fetched rows get a `row_key`: a hash of the fields that identify the record within its
instance, so a re-run, a redelivered message or a restarted listing lands on the same rows.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from service.webhooks.events import Event

Row = dict[str, Any]


def row_key(*parts: Any) -> str:
    canonical = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def zoom_time(value: Any) -> datetime | None:
    """Zoom's `2024-03-01T14:10:56Z` (or with an offset) as aware UTC; '' and junk are None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def text(value: Any, limit: int | None = None) -> str | None:
    """A column-safe string: NULs and unpaired surrogates (which PostgreSQL or UTF-8 refuse)
    become U+FFFD, so one odd field cannot wedge a whole event or page."""
    if value is None:
        return None
    result = clean(value if isinstance(value, str) else to_json(value))
    return result[:limit] if limit else result


def clean(value: str) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in value)
    return value


def as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def to_json(value: Any) -> str:
    return clean(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def kind_of(event_name: str) -> str | None:
    prefix = event_name.split(".", 1)[0]
    return prefix if prefix in ("meeting", "webinar") else None


# Webhooks -------------------------------------------------------------------------------


def instance_row(event: Event) -> Row | None:
    """`*.started` / `*.ended` / participant events: what they say about the instance."""
    obj = event.object
    uuid = text(obj.get("uuid"), 64)
    kind = kind_of(event.name)
    if not uuid or kind is None:
        return None
    return {
        "uuid": uuid,
        "zoom_id": as_int(obj.get("id")),
        "kind": kind,
        "account_id": event.account_id,
        "host_id": text(obj.get("host_id"), 64),
        "topic": text(obj.get("topic")),
        "type": as_int(obj.get("type")),
        "timezone": text(obj.get("timezone"), 64) or None,
        "start_time": zoom_time(obj.get("start_time")),
        "end_time": zoom_time(obj.get("end_time")) if event.name.endswith(".ended") else None,
        "duration": as_int(obj.get("duration")),
    }


def participant_event_row(event: Event, inbox_id: int) -> Row | None:
    """`*.participant_joined` / `*.participant_left` as one timeline entry."""
    obj = event.object
    person = obj.get("participant")
    uuid = text(obj.get("uuid"), 64)
    if not isinstance(person, dict) or not uuid:
        return None
    joined = event.name.endswith("_joined")
    return {
        "inbox_id": inbox_id,
        "instance_uuid": uuid,
        "event": event.name,
        "action": "joined" if joined else "left",
        "event_ts": event.event_ts,
        "at": zoom_time(person.get("join_time" if joined else "leave_time")),
        "id": text(person.get("id"), 64),
        "user_id": text(person.get("user_id"), 64),
        "participant_uuid": text(person.get("participant_uuid"), 64),
        "user_name": text(person.get("user_name")),
        "email": text(person.get("email")),
        "leave_reason": text(person.get("leave_reason")),
    }


REGISTRATION_STATUS = {
    "webinar.registration_created": None,  # the registrant object carries its own status
    "webinar.registration_approved": "approved",
    "webinar.registration_cancelled": "cancelled",
    "webinar.registration_denied": "denied",
}


def registrant_row(event: Event, inbox_id: int) -> Row | None:
    obj = event.object
    registrant = obj.get("registrant")
    webinar_id = as_int(obj.get("id"))
    if not isinstance(registrant, dict) or webinar_id is None or not registrant.get("id"):
        return None
    status = REGISTRATION_STATUS.get(event.name) or text(registrant.get("status"), 16)
    return {
        "webinar_id": webinar_id,
        "id": text(registrant.get("id"), 64),
        "email": text(registrant.get("email")),
        "first_name": text(registrant.get("first_name")),
        "last_name": text(registrant.get("last_name")),
        "status": status or "approved",
        "join_url": text(registrant.get("join_url")),
        "event_ts": event.event_ts,
        "data": to_json(registrant),
        "inbox_id": inbox_id,
    }


# REST records ---------------------------------------------------------------------------


def stint(r: dict[str, Any]) -> Row:
    """The fields of one stint in a meeting that every participant listing has (past data and
    report alike)."""
    return {
        "id": text(r.get("id"), 64),
        "user_id": text(r.get("user_id"), 64),
        "registrant_id": text(r.get("registrant_id"), 64),
        "name": text(r.get("name")),
        "user_email": text(r.get("user_email")),
        "join_time": zoom_time(r.get("join_time")),
        "leave_time": zoom_time(r.get("leave_time")),
        "duration": as_int(r.get("duration")),
        "status": text(r.get("status"), 32),
        "failover": as_bool(r.get("failover")),
    }


def participant_rows(records: Iterable[dict[str, Any]]) -> Iterator[Row]:
    for r in records:
        key = row_key(
            r.get("id"), r.get("user_id"), r.get("name"), r.get("user_email"), r.get("join_time")
        )
        yield {"row_key": key, **stint(r), "internal_user": as_bool(r.get("internal_user"))}


def absentee_rows(records: Iterable[dict[str, Any]]) -> Iterator[Row]:
    for r in records:
        yield {
            "row_key": row_key(r.get("id"), r.get("email")),
            "id": text(r.get("id"), 64),
            "email": text(r.get("email")),
            "first_name": text(r.get("first_name")),
            "last_name": text(r.get("last_name")),
            "status": text(r.get("status"), 32),
            "create_time": zoom_time(r.get("create_time")),
            "data": to_json(r),
        }


def _details(records: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for asker in records:
        details = asker.get("question_details")
        for detail in details if isinstance(details, list) else []:
            if isinstance(detail, dict):
                yield asker, detail


def qa_rows(records: Iterable[dict[str, Any]]) -> Iterator[Row]:
    """One row per question; the same question asked twice by one person stays two rows."""
    seen: Counter[str] = Counter()
    for asker, detail in _details(records):
        identity = row_key(asker.get("name"), asker.get("email"), detail.get("question"))
        seen[identity] += 1
        yield {
            "row_key": row_key(identity, seen[identity]),
            "name": text(asker.get("name")),
            "email": text(asker.get("email")),
            "question": text(detail.get("question")),
            "answer": text(detail.get("answer")),
            "data": to_json(detail),
        }


def poll_rows(records: Iterable[dict[str, Any]]) -> Iterator[Row]:
    """One row per respondent and poll question."""
    seen: Counter[str] = Counter()
    for asker, detail in _details(records):
        identity = row_key(
            asker.get("name"), asker.get("email"), detail.get("polling_id"), detail.get("question")
        )
        seen[identity] += 1
        yield {
            "row_key": row_key(identity, seen[identity]),
            "name": text(asker.get("name")),
            "email": text(asker.get("email")),
            "polling_id": text(detail.get("polling_id"), 64),
            "question": text(detail.get("question")),
            "answer": text(detail.get("answer")),
            "date_time": zoom_time(detail.get("date_time")),
        }
