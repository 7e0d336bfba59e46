"""What each event type does once it is in the inbox.

A handler runs inside the transaction that marks the row finished, so its writes and the
row's `done` commit together or not at all. It returns the row's final status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Connection

from service.processing.writes import Writes
from service.webhooks.events import Event

Outcome = Literal["done", "ignored"]


@dataclass(frozen=True, slots=True)
class Context:
    conn: Connection
    inbox_id: int
    event: Event
    #: Run once the handler's transaction has committed (e.g. enqueue the jobs it created).
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    #: The configured Zoom app whose secret verified the event.
    app: str | None = None
    #: Gathers the live tables' writes of a batch of rows; without it they go straight in.
    batch: Writes | None = None

    @property
    def writes(self) -> Writes:
        return self.batch if self.batch is not None else Writes(self.conn, self.after_commit)


Handler = Callable[[Context], Outcome]
