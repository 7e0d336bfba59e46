"""Processing inbox rows: claim them, run their handlers, record the outcomes. Idempotent.

Rows come in batches (one message per group commit of the endpoint): one UPDATE claims the
batch, the handlers run in one transaction, and one UPDATE per outcome finishes them. If any
handler fails, that transaction rolls back and each row runs again on its own, so one bad
row fails only itself. One or two fsyncs per batch
instead of two per event is what lets the workers keep up with a sustained load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from service import metrics
from service.processing.handlers import Context, Handler, Outcome
from service.processing.writes import GatheredWrites, Writes
from service.storage.errors import describe
from service.storage.heartbeat import Heartbeat
from service.storage.inbox import Claimed, Inbox, NewEvent
from service.storage.lease import LeaseLost, new_owner
from service.storage.records import KindConflict
from service.webhooks import events

log = logging.getLogger(__name__)

PERMANENT = (events.EventError, KindConflict)

#: Rows processed in one transaction at most. In one process the web's group commit waits for
#: the workers' transaction on SQLite's one writer; a short one keeps delivery latency low.
DEFAULT_TRANSACTION_ROWS = 16


class Result(Enum):
    DONE = "done"
    IGNORED = "ignored"
    FAILED = "failed"
    RETRY = "retry"  # back to `received`; the caller sends it again later
    SKIPPED = "skipped"  # finished already, or another worker holds it


class RetryLater(Exception):
    """The attempt failed and the row is back to `received`; the queue should retry."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class Processed:
    results: dict[int, Result]
    #: (row id, attempts so far) of each row to send again after a backoff.
    retries: list[tuple[int, int]]
    #: Why each failed row failed.
    errors: dict[int, str]


@dataclass(frozen=True, slots=True)
class Settled:
    """New rows processed in the transaction that stored them (`process_fresh`)."""

    #: Row id -> (event name, outcome).
    outcomes: dict[int, tuple[str, Outcome]]
    #: To run once that transaction has committed (`Processor.after_commit`).
    actions: list[Callable[[], None]]


class Processor:
    def __init__(
        self,
        inbox: Inbox,
        handlers: Mapping[str, Handler],
        *,
        max_attempts: int,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.inbox = inbox
        self.handlers = handlers
        self.max_attempts = max_attempts
        self.heartbeat = heartbeat or Heartbeat(inbox.engine, [inbox.leases])

    def process(self, inbox_id: int) -> Result:
        """One row. Raises RetryLater when it failed and should be tried again."""
        processed = self.process_batch([inbox_id])
        if processed.retries:
            _, attempts = processed.retries[0]
            raise RetryLater(processed.errors[inbox_id], attempts)
        return processed.results.get(inbox_id, Result.SKIPPED)

    def process_batch(self, inbox_ids: Sequence[int]) -> Processed:
        owner = new_owner()
        with self.heartbeat.holding(self.inbox.leases, owner):
            claimed = self.inbox.claim(inbox_ids, owner)
            results = dict.fromkeys(inbox_ids, Result.SKIPPED)
            if not claimed:
                return Processed(results, [], {})
            after_commit: list[Callable[[], None]] = []
            outcomes: dict[int, Outcome] = {}
            failures: list[tuple[Claimed, Exception]] = []
            for start in range(0, len(claimed), DEFAULT_TRANSACTION_ROWS):
                chunk = claimed[start : start + DEFAULT_TRANSACTION_ROWS]
                actions: list[Callable[[], None]] = []
                try:
                    outcomes.update(self._together(chunk, owner, actions))
                except Exception:
                    # A handler failed, or a lease was lost: the chunk rolled back as a whole.
                    # Each row then runs on its own, so one bad row only fails itself.
                    actions = []
                    done, failed = self._one_by_one(chunk, owner, actions)
                    outcomes.update(done)
                    failures.extend(failed)
                after_commit.extend(actions)
            names = {row.id: row.event for row in claimed}
            for row_id, outcome in outcomes.items():
                results[row_id] = Result(outcome)
                _counted(row_id, names[row_id], outcome)
            retries = self._fail(failures, owner, results)
            errors = {row.id: _error(exc) for row, exc in failures}
        _run_after_commit(after_commit)
        return Processed(results, retries, errors)

    def process_fresh(self, conn: Connection, rows: Sequence[tuple[int, NewEvent]]) -> Settled:
        """Run the handlers of rows just inserted by `conn`'s open transaction, in it, under a
        savepoint, and mark them finished: their inbox row and their effects then commit
        together, with no claim, no message and no second transaction. If a handler fails
        the savepoint rolls back and nothing is settled: the rows stay `received`, for the
        workers (one by one, with retries) as usual. The caller commits, then calls
        `after_commit`."""
        actions: list[Callable[[], None]] = []
        outcomes: dict[int, tuple[str, Outcome]] = {}
        try:
            with conn.begin_nested():
                batch = GatheredWrites(conn, actions)
                for row_id, new in rows:
                    event = (
                        new.parsed
                        if isinstance(new.parsed, events.Event)
                        else events.parse(new.body.encode("utf-8", "surrogatepass"))
                    )
                    context = Context(conn, row_id, event, actions, new.app, batch=batch)
                    outcome = self._dispatch(context)
                    outcomes[row_id] = (event.name, outcome)
                batch.flush()
                self.inbox.finish_fresh(conn, {i: o for i, (_, o) in outcomes.items()})
        except Exception as exc:
            log.info("%s new inbox rows left to the workers: %s", len(rows), _error(exc))
            return Settled({}, [])
        return Settled(outcomes, actions)

    def after_commit(self, settled: Settled) -> None:
        """What follows the commit of `process_fresh`'s rows: counts and queued jobs."""
        for row_id, (name, outcome) in settled.outcomes.items():
            _counted(row_id, name, outcome)
        _run_after_commit(settled.actions)

    def _handle(
        self,
        conn: Connection,
        row: Claimed,
        after_commit: list[Callable[[], None]],
        batch: Writes | None = None,
    ) -> Outcome:
        event = events.parse(row.body.encode("utf-8", "surrogatepass"))
        return self._dispatch(Context(conn, row.id, event, after_commit, row.app, batch=batch))

    def _dispatch(self, ctx: Context) -> Outcome:
        handler = self.handlers.get(ctx.event.name)
        return "ignored" if handler is None else handler(ctx)

    def _together(
        self, claimed: Sequence[Claimed], owner: str, after_commit: list[Callable[[], None]]
    ) -> dict[int, Outcome]:
        """Every row of the batch in one transaction, finished by one UPDATE per outcome."""
        actions: list[Callable[[], None]] = []
        with self.inbox.engine.begin() as conn:
            batch = GatheredWrites(conn, actions)
            outcomes = {row.id: self._handle(conn, row, actions, batch) for row in claimed}
            batch.flush()
            self.inbox.finish_many(conn, outcomes, owner)
        after_commit.extend(actions)
        return outcomes

    def _one_by_one(
        self, claimed: Sequence[Claimed], owner: str, after_commit: list[Callable[[], None]]
    ) -> tuple[dict[int, Outcome], list[tuple[Claimed, Exception]]]:
        outcomes: dict[int, Outcome] = {}
        failures: list[tuple[Claimed, Exception]] = []
        for row in claimed:
            actions: list[Callable[[], None]] = []
            try:
                with self.inbox.engine.begin() as conn:
                    outcome = self._handle(conn, row, actions)
                    self.inbox.finish(conn, row.id, owner, outcome)
            except LeaseLost:
                log.warning("inbox %s: lease lost, leaving it to its new holder", row.id)
                continue
            except Exception as exc:
                failures.append((row, exc))
                continue
            outcomes[row.id] = outcome
            after_commit.extend(actions)
        return outcomes, failures

    def _fail(
        self,
        failures: list[tuple[Claimed, Exception]],
        owner: str,
        results: dict[int, Result],
    ) -> list[tuple[int, int]]:
        retries: list[tuple[int, int]] = []
        for row, exc in failures:
            # A body that does not parse, or contradicts what is stored, will do so again.
            final = row.attempts >= self.max_attempts or isinstance(exc, PERMANENT)
            error = _error(exc)
            log.warning(
                "inbox %s (%s) attempt %s failed: %s",
                row.id,
                row.event,
                row.attempts,
                error,
                # A database error's traceback would print its statement: the line says enough.
                exc_info=None if isinstance(exc, events.EventError | SQLAlchemyError) else exc,
                extra={"inbox_id": row.id, "event": row.event},
            )
            try:
                self.inbox.fail(row.id, owner, error, final=final)
            except LeaseLost:
                continue
            except SQLAlchemyError:
                # The row stays held until its lease runs out; then the sweeper takes it.
                log.warning("inbox %s: could not record the failure", row.id, exc_info=True)
                continue
            metrics.EVENTS_PROCESSED.labels(row.event, "failed" if final else "retry").inc()
            results[row.id] = Result.FAILED if final else Result.RETRY
            if not final:
                retries.append((row.id, row.attempts))
        return retries


def _error(exc: Exception) -> str:
    if isinstance(exc, SQLAlchemyError):
        return describe(exc)
    return f"{type(exc).__name__}: {exc}"


def _counted(row_id: int, name: str, outcome: Outcome) -> None:
    metrics.EVENTS_PROCESSED.labels(name, outcome).inc()
    log.debug("inbox %s (%s) %s", row_id, name, outcome, extra={"inbox_id": row_id, "event": name})


def _run_after_commit(actions: Sequence[Callable[[], None]]) -> None:
    for action in actions:
        try:
            action()
        except Exception:
            # Committed is what counts: the sweepers pick up whatever was not enqueued.
            log.warning("after-commit action failed", exc_info=True)
