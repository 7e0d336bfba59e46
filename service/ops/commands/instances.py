"""`zoomhooks instances show UUID`: one meeting or webinar at a glance."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import ColumnElement, Connection, Table, column, func, select, table

from service.ops import output, session
from service.ops.formatting import cell, one_line
from service.ops.options import json_option
from service.storage.models import (
    absentees,
    followups,
    instances,
    participant_events,
    participants,
    poll_answers,
    qa_entries,
    recording_files,
    registrants,
    report_participants,
)

#: Tables keyed by the instance's uuid, and what a row of each is.
PER_INSTANCE: dict[str, tuple[Table, str]] = {
    "participants": (participants, "attendance rows (one per join and leave)"),
    "absentees": (absentees, "registrants who did not attend"),
    "qa": (qa_entries, "Q&A entries"),
    "polls": (poll_answers, "poll answers"),
    "live_timeline": (participant_events, "live join/leave events"),
    "recording_files": (recording_files, "recording files"),
    "report_participants": (report_participants, "participant report rows"),
}


#: The column that names the instance, where it is not `instance_uuid`.
_KEY = {"recording_files": "recording_uuid"}


def _count(conn: Connection, table: Table, column: str, value: Any) -> int:
    query = select(func.count()).select_from(table).where(table.c[column] == value)
    return int(conn.execute(query).scalar_one())


#: The migration-made view, so that this command counts people as SQL users of it do.
attendance_summary = table(
    "attendance_summary",
    *(
        column(name)
        for name in (
            "instance_uuid",
            "registrants",
            "attended",
            "absent",
            "attendance_rate",
            "avg_minutes",
        )
    ),
)


def _person(email: ColumnElement[Any], name: ColumnElement[Any]) -> ColumnElement[Any]:
    """A person is their address, or their name when Zoom has none (guests), as in the views."""
    return func.coalesce(func.nullif(email, ""), name)


def _attendance(conn: Connection, uuid: str) -> dict[str, Any]:
    v = attendance_summary.c
    found = conn.execute(
        select(v.registrants, v.attended, v.absent, v.attendance_rate, v.avg_minutes).where(
            v.instance_uuid == uuid
        )
    ).one()
    q, p = qa_entries.c, poll_answers.c
    qa = conn.execute(
        select(func.count(), func.count(func.nullif(func.coalesce(q.answer, ""), ""))).where(
            q.instance_uuid == uuid
        )
    ).one()
    polls = conn.execute(
        select(
            func.count(func.distinct(p.polling_id)),
            func.count(func.distinct(_person(p.email, p.name))),
        ).where(p.instance_uuid == uuid)
    ).one()
    rate, minutes = found.attendance_rate, found.avg_minutes
    return {
        "registrants_approved": int(found.registrants),
        "attended": int(found.attended),
        "absent": int(found.absent),
        "attendance_rate": None if rate is None else float(rate),
        "avg_minutes": None if minutes is None else float(minutes),
        "questions": int(qa[0]),
        "answered": int(qa[1]),
        "polls": int(polls[0]),
        "poll_respondents": int(polls[1]),
    }


def summary(conn: Connection, uuid: str) -> dict[str, Any] | None:
    found = conn.execute(select(instances).where(instances.c.uuid == uuid)).mappings().first()
    if found is None:
        return None
    counts = {
        name: _count(conn, table, _KEY.get(name, "instance_uuid"), uuid)
        for name, (table, _) in PER_INSTANCE.items()
    }
    if found["kind"] == "webinar" and found["zoom_id"] is not None:
        counts["registrants"] = _count(conn, registrants, "webinar_id", found["zoom_id"])
        by_status = conn.execute(
            select(registrants.c.status, func.count())
            .where(registrants.c.webinar_id == found["zoom_id"])
            .group_by(registrants.c.status)
            .order_by(registrants.c.status)
        ).all()
        counts |= {f"registrants_{status}": int(n) for status, n in by_status}
    c = followups.c
    jobs = conn.execute(
        select(c.id, c.resource, c.status, c.attempts, c.rows_stored, c.next_attempt_at)
        .add_columns(c.last_error)
        .where(c.instance_uuid == uuid)
        .order_by(c.resource)
    ).mappings()
    return {
        "instance": dict(found),
        "attendance": _attendance(conn, uuid),
        "counts": counts,
        "followups": [dict(job) for job in jobs],
    }


#: How the text output names the attendance figures.
ATTENDANCE = {
    "registrants_approved": "registrants approved",
    "attended": "attended (distinct people)",
    "absent": "absent (registered, did not come)",
    "attendance_rate": "attendance rate",
    "avg_minutes": "average minutes per attendee",
    "questions": "questions asked",
    "answered": "questions answered",
    "polls": "polls",
    "poll_respondents": "poll respondents",
}


@click.group("instances")
def instances_group() -> None:
    """Meeting and webinar instances: what zoomhooks knows of each."""


@instances_group.command("show")
@click.argument("uuid")
@json_option
def show(uuid: str, as_json: bool) -> None:
    """Attendance, absentees, Q&A, polls, recordings and follow-up states of one instance.

    People are counted as the `attendance_summary` view counts them: by address, or by name
    for guests without one."""
    with session.reader() as engine, engine.connect() as conn:
        found = summary(conn, uuid)
    if found is None:
        raise click.ClickException(
            f"no instance {uuid}: zoomhooks learns of one from its webhooks or a backfill"
        )
    if as_json:
        output.json_line(found)
        return
    inst = found["instance"]
    output.show(
        output.table(
            ("field", "value"),
            [
                (name, cell(inst[name]))
                for name in ("kind", "zoom_id", "topic", "host_id", "start_time", "end_time")
            ]
            + [(label, cell(found["attendance"][key])) for key, label in ATTENDANCE.items()]
            + [
                (PER_INSTANCE[name][1] if name in PER_INSTANCE else name, str(n))
                for name, n in found["counts"].items()
            ],
            title=f"{inst['kind']} {uuid}",
        ),
        output.table(
            ("job", "resource", "status", "attempts", "rows", "last_error"),
            [
                (
                    str(job["id"]),
                    job["resource"],
                    output.text(job["status"], output.status_style(job["status"])),
                    str(job["attempts"]),
                    cell(job["rows_stored"]),
                    one_line(job["last_error"]),
                )
                for job in found["followups"]
            ],
            title="follow-ups",
        ),
    )
