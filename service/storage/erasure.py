"""Erasure: every row about one person (a GDPR-style request), in short batches.

A person is named by e-mail address (case-insensitive) and/or Zoom user id: the participant's
`id` (`participant_user_id` in webhooks), which stays the same across meetings, not the
per-meeting `user_id`. A user id also finds the addresses its rows carry, so that their Q&A and
poll answers, which Zoom names by address only, go too.

An inbox body goes whole when the address is one of its JSON string values, or when a
participant in it has the user id. The match is on the whole value, so that erasing
`bo@example.com` leaves `jimbo@example.com`'s events alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, delete, false, func, or_, select

from service.storage.models import (
    absentees,
    actions,
    instance_details,
    participant_events,
    participants,
    poll_answers,
    qa_entries,
    recording_downloads,
    recording_files,
    recordings,
    registrant_answers,
    registrants,
    report_participants,
    webhook_events,
)
from service.storage.retention import DEFAULT_PURGE_BATCH, count, delete_batched, key_of


@dataclass(frozen=True, slots=True)
class Person:
    emails: frozenset[str] = field(default_factory=frozenset)
    user_ids: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Erased:
    person: Person  # as asked, plus the addresses the user ids' rows carry
    rows: dict[str, int]


def check_email(email: str) -> None:
    """A pattern such as `%` or `@` would match everyone's rows: refuse what is no address."""
    local, _, domain = email.strip().partition("@")
    if not local or "." not in domain.strip(".") or any(c.isspace() for c in email.strip()):
        raise ValueError(f"not an e-mail address: {email!r}")


def check_user_id(user_id: str) -> None:
    if not user_id.strip() or any(c.isspace() or c in '"\\' for c in user_id):
        raise ValueError(f"not a Zoom user id: {user_id!r}")


def _lower_in(column: ColumnElement[Any], emails: frozenset[str]) -> ColumnElement[bool]:
    return func.lower(column).in_(sorted(emails)) if emails else false()


def _in(column: ColumnElement[Any], values: frozenset[str]) -> ColumnElement[bool]:
    return column.in_(sorted(values)) if values else false()


def _quoted(column: ColumnElement[Any], values: Iterable[str], *, lower: bool) -> list[Any]:
    text = func.lower(column) if lower else column
    return [
        text.contains(json.dumps(value, ensure_ascii=False), autoescape=True)
        for value in sorted(values)
    ]


def _rows(person: Person) -> Mapping[str, tuple[Table, ColumnElement[bool]]]:
    emails, ids = person.emails, person.user_ids
    # A host's recordings name them (host_email, host_id) and hold their voice: the rows go,
    # files' rows and download jobs first. Files already stored are the operator's to delete.
    hosted = (
        select(recordings.c.uuid)
        .where(_lower_in(recordings.c.host_email, emails) | _in(recordings.c.host_id, ids))
        .scalar_subquery()
    )
    return {
        "recording_downloads": (
            recording_downloads,
            recording_downloads.c.recording_uuid.in_(hosted),
        ),
        "recording_files": (recording_files, recording_files.c.recording_uuid.in_(hosted)),
        "recordings": (
            recordings,
            _lower_in(recordings.c.host_email, emails) | _in(recordings.c.host_id, ids),
        ),
        "participants": (
            participants,
            _lower_in(participants.c.user_email, emails) | _in(participants.c.id, ids),
        ),
        "absentees": (absentees, _lower_in(absentees.c.email, emails)),
        "qa_entries": (qa_entries, _lower_in(qa_entries.c.email, emails)),
        "poll_answers": (poll_answers, _lower_in(poll_answers.c.email, emails)),
        "report_participants": (
            report_participants,
            _lower_in(report_participants.c.user_email, emails)
            | _in(report_participants.c.id, ids)
            | _in(report_participants.c.participant_user_id, ids),
        ),
        # A host's name and address are in the report details of their instances.
        "instance_details": (instance_details, _lower_in(instance_details.c.host_email, emails)),
        # Answers carry no address: they go by their registrant, before the registrant goes.
        "registrant_answers": (
            registrant_answers,
            registrant_answers.c.registrant_id.in_(
                select(registrants.c.id).where(_lower_in(registrants.c.email, emails))
            ),
        ),
        "registrants": (registrants, _lower_in(registrants.c.email, emails)),
        "participant_events": (
            participant_events,
            _lower_in(participant_events.c.email, emails) | _in(participant_events.c.id, ids),
        ),
        # An action's audit row names the registrant it approved or denied: `… <address>`.
        "actions": (
            actions,
            or_(
                false(),
                *(
                    func.lower(actions.c.target).contains(f"<{e}>", autoescape=True)
                    for e in sorted(emails)
                ),
                *_quoted(actions.c.request, emails, lower=True),
            ),
        ),
    }


def _mentions(value: Any, person: Person) -> bool:
    """Whether a decoded body holds one of the addresses, or a participant with a user id."""
    if isinstance(value, str):
        return value.strip().lower() in person.emails
    if isinstance(value, list):
        return any(_mentions(item, person) for item in value)
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "participant_user_id" and item in person.user_ids:
                return True
            if key in ("participant", "participants") and _has_user_id(item, person):
                return True
            if _mentions(item, person):
                return True
    return False


def _has_user_id(value: Any, person: Person) -> bool:
    if isinstance(value, list):
        return any(_has_user_id(item, person) for item in value)
    return isinstance(value, dict) and value.get("id") in person.user_ids


def _inbox(engine: Engine, person: Person, *, dry_run: bool, batch: int) -> int:
    """Inbox events that mention the person. SQL finds the bodies holding the quoted values;
    Python keeps those where the value is really the address or the participant's id."""
    body = webhook_events.c.body
    candidates = or_(
        false(),
        *_quoted(body, person.emails, lower=True),
        *_quoted(body, person.user_ids, lower=False),
    )
    key = key_of(webhook_events)
    total, after = 0, None
    while True:
        with engine.begin() as conn:
            query = select(key, body).where(candidates).order_by(key).limit(batch)
            if after is not None:
                query = query.where(key > after)
            found = conn.execute(query).all()
            if not found:
                return total
            ids = [row[0] for row in found if _mentions(json.loads(row[1]), person)]
            if ids and not dry_run:
                conn.execute(delete(webhook_events).where(key.in_(ids)))
        total += len(ids)
        after = found[-1][0]


def _addresses_of(engine: Engine, user_ids: frozenset[str]) -> frozenset[str]:
    if not user_ids:
        return frozenset()
    with engine.connect() as conn:
        found = conn.execute(
            select(func.lower(participants.c.user_email))
            .where(participants.c.id.in_(sorted(user_ids)))
            .union(
                select(func.lower(participant_events.c.email)).where(
                    participant_events.c.id.in_(sorted(user_ids))
                )
            )
        ).scalars()
        return frozenset(e for e in found if e)


def erase(
    engine: Engine,
    *,
    emails: Iterable[str] = (),
    user_ids: Iterable[str] = (),
    dry_run: bool = False,
    batch: int = DEFAULT_PURGE_BATCH,
) -> Erased:
    """Every row about the person, per table, deleted (or, with `dry_run`, counted).

    The inbox goes first: an event still being processed then cannot finish, so it adds none
    of the person's rows back after the tables were cleared.
    """
    asked = Person(frozenset(e.strip().lower() for e in emails), frozenset(user_ids))
    for email in asked.emails:
        check_email(email)
    for user_id in asked.user_ids:
        check_user_id(user_id)
    if not (asked.emails or asked.user_ids):
        raise ValueError("name the person: an e-mail address or a Zoom user id")
    person = Person(asked.emails | _addresses_of(engine, asked.user_ids), asked.user_ids)
    rows = {"webhook_events": _inbox(engine, person, dry_run=dry_run, batch=batch)}
    for name, (table, where) in _rows(person).items():
        rows[name] = (
            count(engine, table, where) if dry_run else delete_batched(engine, table, where, batch)
        )
    return Erased(person, rows)
