"""Row shaping for the registrants listing and the report endpoints. Pure, no I/O.

The registrants listing (`GET /webinars/{webinarId}/registrants`) and the live registration
events describe the same rows of `registrants`, keyed by (webinar number, registrant id). A
listing is a snapshot: its rows carry the time it was fetched as their `event_ts`, so a status
from a live event newer than the listing wins, and an older one loses, whatever the arrival
order. Custom questions become one `registrant_answers` row each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from service.processing.shape import Row, as_int, row_key, stint, text, to_json, zoom_time

#: Longest custom question title kept (the column is VARCHAR(300)).
MAX_TITLE = 300


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def listed_registrant_rows(
    records: Iterable[dict[str, Any]], *, webinar_id: int, status: str, listed_at: datetime
) -> Iterator[Row]:
    """Registrants of one status listing; a record without an id is skipped (Zoom gives every
    registrant one). The listing's `status` parameter is the row's status."""
    for r in records:
        registrant_id = text(r.get("id"), 64)
        if not registrant_id:
            continue
        yield {
            "webinar_id": webinar_id,
            "id": registrant_id,
            "email": text(r.get("email")),
            "first_name": text(r.get("first_name")),
            "last_name": text(r.get("last_name")),
            "status": status,
            "join_url": text(r.get("join_url")),
            "event_ts": epoch_ms(listed_at),
            "data": to_json(r),
            "inbox_id": None,
            "create_time": zoom_time(r.get("create_time")),
            "listed_at": listed_at,
        }


def answer_rows(webinar_id: int, registrant_id: str, registrant: dict[str, Any]) -> list[Row]:
    """One row per custom question of a registrant object; a title asked twice keeps the last
    answer (the key is the title)."""
    questions = registrant.get("custom_questions")
    by_title: dict[str, Row] = {}
    for q in questions if isinstance(questions, list) else []:
        if not isinstance(q, dict):
            continue
        title = text(q.get("title"), MAX_TITLE)
        if not title:
            continue
        by_title[title] = {
            "webinar_id": webinar_id,
            "registrant_id": registrant_id,
            "title": title,
            "value": text(q.get("value")),
        }
    return list(by_title.values())


def report_participant_rows(records: Iterable[dict[str, Any]]) -> Iterator[Row]:
    """`report/{webinars|meetings}/{id}/participants`: one row per stint, as listed."""
    for r in records:
        key = row_key(
            r.get("id"),
            r.get("user_id"),
            r.get("participant_user_id"),
            r.get("name"),
            r.get("user_email"),
            r.get("join_time"),
        )
        yield {
            "row_key": key,
            **stint(r),
            "participant_user_id": text(r.get("participant_user_id"), 64),
            "customer_key": text(r.get("customer_key"), 64),
            "bo_mtg_id": text(r.get("bo_mtg_id"), 64),
        }


def details_rows(records: Iterable[dict[str, Any]]) -> Iterator[Row]:
    """`report/{webinars|meetings}/{id}`: the one object, as the instance's details row."""
    for r in records:
        custom_keys, tracking = r.get("custom_keys"), r.get("tracking_fields")
        yield {
            "zoom_id": as_int(r.get("id")),
            "topic": text(r.get("topic")),
            "type": as_int(r.get("type")),
            "host_name": text(r.get("user_name")),
            "host_email": text(r.get("user_email")),
            "dept": text(r.get("dept")),
            "start_time": zoom_time(r.get("start_time")),
            "end_time": zoom_time(r.get("end_time")),
            "duration": as_int(r.get("duration")),
            "total_minutes": as_int(r.get("total_minutes")),
            "participants_count": as_int(r.get("participants_count")),
            "custom_keys": to_json(custom_keys) if isinstance(custom_keys, list) else None,
            "tracking_fields": to_json(tracking) if isinstance(tracking, list) else None,
            "data": to_json(r),
        }
