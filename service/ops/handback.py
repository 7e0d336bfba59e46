"""Handing reset rows back to the workers, and telling the operator how they will be taken.

With a real broker (BROKER_URL set), each row is enqueued at once. With the embedded broker,
the queue lives in the memory of `zoomhooks serve`, another process this command cannot
reach: the rows are left stale (see `queries.reset`), and serve's sweeper enqueues them at its
next round. Either way the rows are stale, so if an enqueue fails, a sweeper still takes them
(and should a sweeper send a second message for a row just enqueued, the worker's claim, a
compare-and-set, absorbs it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import click
from sqlalchemy import Connection

from service.config import Settings
from service.ops import output
from service.ops.formatting import duration, plural
from service.ops.session import scrub
from service.runtime import Runtime
from service.storage.types import utcnow

log = logging.getLogger(__name__)

Send = Callable[[int], None]


class Handback:
    """Collects the ids reset by a command and hands each to the workers."""

    def __init__(self, settings: Settings, send: Send, *, noun: str) -> None:
        self.settings = settings
        self.send = send
        self.noun = noun
        self.reset: list[int] = []
        self.enqueued: list[int] = []
        self.error: str | None = None

    @property
    def embedded(self) -> bool:
        return self.settings.embedded

    def __call__(self, ids: Iterable[int]) -> None:
        for row_id in ids:
            self.reset.append(row_id)
            if self.embedded or self.error is not None:
                continue
            try:
                self.send(row_id)
            except Exception as exc:
                # The rest stay reset and stale: a sweeper takes them.
                self.error = scrub(f"{type(exc).__name__}: {exc}", self.settings)
                log.debug("enqueue of %s %s failed", self.noun, row_id, exc_info=True)
                continue
            self.enqueued.append(row_id)

    @property
    def ok(self) -> bool:
        return self.error is None

    def how(self) -> str:
        """One sentence: how the reset rows reach a worker."""
        n = len(self.reset)
        if self.embedded:
            interval = seconds_text(self.settings.sweep_interval_seconds)
            them = "it" if n == 1 else "them"
            return (
                f"BROKER_URL is not set (embedded broker): this command cannot reach the "
                f"in-memory queue of `zoomhooks serve`, so {plural(n, self.noun)} "
                f"{'is' if n == 1 else 'are'} marked stale instead. serve's sweeper enqueues "
                f"{them} at its next round, within ZOOMHOOKS_SWEEP_INTERVAL_SECONDS ({interval} "
                f"in this environment); if serve is not running, it enqueues {them} when it "
                f"starts."
            )
        if self.error is None:
            return f"Enqueued {plural(len(self.enqueued), self.noun)} on the broker."
        return (
            f"Enqueued only {len(self.enqueued)} of {plural(n, self.noun)}: the broker failed "
            f"({self.error}). The rest are reset and marked stale, so a worker's sweeper "
            f"(or `zoomhooks sweep`) enqueues them."
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "reset": self.reset,
            "mode": "embedded" if self.embedded else "broker",
            "enqueued": self.enqueued,
            "enqueue_error": self.error,
            "note": self.how(),
        }


def seconds_text(seconds: float) -> str:
    """`60 s`, or `5m 00s` for longer."""
    return f"{seconds:g} s" if seconds < 120 else duration(timedelta(seconds=seconds))


def send_now(schedule: Callable[[int, datetime], None]) -> Send:
    """A follow-up scheduler as a `Send`: due at once."""
    return lambda job_id: schedule(job_id, utcnow())


def chunks(ids: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


#: Rows reset per transaction by the bulk commands.
BATCH = 500
#: Resets a batch of ids inside a transaction; returns the ids it changed.
Reset = Callable[[Connection, Sequence[int]], list[int]]


def hand_back_failed(
    runtime: Runtime,
    ids: Sequence[int],
    *,
    send: Send,
    reset: Reset,
    noun: str,
    verb: str,
    scope: str,
    yes: bool,
    as_json: bool,
) -> None:
    """The bulk form of `replay` and `followups retry`: confirm, reset in batches, hand the
    rows to the workers, say what happened. Exits 1 when nothing was handed back."""
    if not ids:
        output.nothing(f"no failed {noun}s{scope}")
    if not yes:
        click.confirm(f"{verb} {plural(len(ids), f'failed {noun}')}{scope}?", abort=True, err=True)
    handback = Handback(runtime.settings, send, noun=noun)
    with output.progress(len(ids), label=f"{verb.lower()}ing", enabled=not as_json) as advance:
        for batch in chunks(ids, BATCH):
            with runtime.engine.begin() as conn:
                handback(reset(conn, batch))
            advance(len(batch))
    skipped = len(ids) - len(handback.reset)
    if as_json:
        output.json_line({**handback.as_json(), "matched": len(ids), "changed_meanwhile": skipped})
    else:
        output.show(
            output.text(f"{verb}ing {plural(len(handback.reset), f'failed {noun}')}{scope}.")
        )
        if skipped:
            output.note(f"{skipped} of them changed meanwhile (no longer failed) and were left.")
        output.note(handback.how(), style="yellow" if handback.ok else "bold red")
    if not handback.ok or not handback.reset:
        raise SystemExit(1)


def report_one(handback: Handback, message: str, *, as_json: bool, fields: dict[str, Any]) -> None:
    """Say what happened to one handed-back row; exit 1 when it could not be handed back."""
    if as_json:
        output.json_line({**handback.as_json(), **fields})
    else:
        output.show(output.text(message))
        output.note(handback.how(), style="yellow" if handback.ok else "bold red")
    if not handback.ok:
        raise SystemExit(1)
