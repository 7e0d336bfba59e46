"""What each event type does once it is in the inbox.

A handler runs inside the transaction that marks the row finished, so its writes and the
row's `done` commit together or not at all. It returns the row's final status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection

from service.webhooks.events import Event

Outcome = Literal["done", "ignored"]


@dataclass(frozen=True, slots=True)
class Context:
    conn: Connection
    inbox_id: int
    event: Event


Handler = Callable[[Context], Outcome]

#: Events zoomhooks acts on. Everything else is kept in the inbox and marked `ignored`.
HANDLED_EVENTS = (
    "meeting.started",
    "meeting.ended",
    "meeting.participant_joined",
    "meeting.participant_left",
    "webinar.started",
    "webinar.ended",
    "webinar.participant_joined",
    "webinar.participant_left",
    "webinar.registration_created",
    "webinar.registration_approved",
    "webinar.registration_cancelled",
    "webinar.registration_denied",
)


def record_only(_ctx: Context) -> Outcome:
    """Keeps the event in the inbox as processed; the follow-up work plugs in here."""
    return "done"


def default_handlers() -> dict[str, Handler]:
    return dict.fromkeys(HANDLED_EVENTS, record_only)


def resolve(handlers: Mapping[str, Handler], event: str) -> Handler | None:
    return handlers.get(event)
