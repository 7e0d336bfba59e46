"""Retention: deleting old rows, and one person's rows, in short batches.

The inbox keeps whole request bodies (names, e-mails), and the timeline grows by a row per
participant event. Deletes go in batches of `batch` rows, each its own transaction, so a purge
of millions of rows never holds SQLite's one writer (or PostgreSQL row locks) for long, and
ingest goes on between batches. Unfinished inbox rows are never deleted by age.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, Table, delete, func, select

from service.storage.models import (
    absentees,
    actions,
    participant_events,
    participants,
    poll_answers,
    qa_entries,
    registrants,
    webhook_events,
)

#: Rows one delete transaction takes at most.
DEFAULT_PURGE_BATCH = 1000
#: Inbox statuses a purge by age may delete: never an event still to be processed.
FINISHED = ("done", "ignored", "failed")


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows older than these are purged; None keeps that table's rows."""

    events: datetime | None = None
    timeline: datetime | None = None


def _pk(table: Table) -> str:
    return "pk" if "pk" in table.c else "id"


def _count(engine: Engine, table: Table, where: ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())


def _delete(
    engine: Engine,
    table: Table,
    where: ColumnElement[bool],
    batch: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    key = table.c[_pk(table)]
    total = 0
    while True:
        with engine.begin() as conn:
            ids = conn.execute(select(key).where(where).order_by(key).limit(batch)).scalars().all()
            if not ids:
                return total
            deleted = conn.execute(delete(table).where(key.in_(ids))).rowcount
        total += deleted
        if progress is not None:
            progress(deleted)


def _aged(cutoffs: Cutoffs) -> dict[str, tuple[Table, ColumnElement[bool]]]:
    found: dict[str, tuple[Table, ColumnElement[bool]]] = {}
    if cutoffs.events is not None:
        c = webhook_events.c
        found["webhook_events"] = (
            webhook_events,
            c.status.in_(FINISHED) & (c.received_at < cutoffs.events),
        )
    if cutoffs.timeline is not None:
        c = participant_events.c
        # A row without a time is judged by nothing it carries: it goes with its inbox event.
        found["participant_events"] = (participant_events, c.at < cutoffs.timeline)
    return found


def purge(
    engine: Engine, cutoffs: Cutoffs, *, dry_run: bool = False, batch: int = DEFAULT_PURGE_BATCH
) -> dict[str, int]:
    """Rows deleted (or, with `dry_run`, that would be) per table."""
    return {
        name: _count(engine, table, where) if dry_run else _delete(engine, table, where, batch)
        for name, (table, where) in _aged(cutoffs).items()
    }


def _person(email: str) -> Mapping[str, tuple[Table, ColumnElement[bool]]]:
    wanted = email.strip().lower()
    return {
        "participants": (participants, func.lower(participants.c.user_email) == wanted),
        "absentees": (absentees, func.lower(absentees.c.email) == wanted),
        "qa_entries": (qa_entries, func.lower(qa_entries.c.email) == wanted),
        "poll_answers": (poll_answers, func.lower(poll_answers.c.email) == wanted),
        "registrants": (registrants, func.lower(registrants.c.email) == wanted),
        "participant_events": (
            participant_events,
            func.lower(participant_events.c.email) == wanted,
        ),
        # An action's audit row names the registrant it approved or denied.
        "actions": (
            actions,
            func.lower(actions.c.target).contains(wanted, autoescape=True)
            | func.lower(actions.c.request).contains(wanted, autoescape=True),
        ),
        # The inbox keeps the bodies as sent: an event that mentions the address goes whole.
        "webhook_events": (
            webhook_events,
            func.lower(webhook_events.c.body).contains(wanted, autoescape=True),
        ),
    }


def check_email(email: str) -> None:
    """A pattern such as `%` or `@` would match everyone's rows: refuse what is no address."""
    local, _, domain = email.strip().partition("@")
    if not local or "." not in domain.strip(".") or any(c.isspace() for c in email.strip()):
        raise ValueError(f"not an e-mail address: {email!r}")


def erase(
    engine: Engine, email: str, *, dry_run: bool = False, batch: int = DEFAULT_PURGE_BATCH
) -> dict[str, int]:
    """Every row about the person with this e-mail address, per table (GDPR-style erasure)."""
    check_email(email)
    return {
        name: _count(engine, table, where) if dry_run else _delete(engine, table, where, batch)
        for name, (table, where) in _person(email).items()
    }
