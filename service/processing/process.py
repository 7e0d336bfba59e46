"""Processing one inbox row: claim it, run its handler, record the outcome. Idempotent."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from enum import Enum

from service import metrics
from service.processing.handlers import Context, Handler
from service.processing.priority import DeliveriesFirst, NoPriority
from service.storage.inbox import Inbox
from service.webhooks import events

log = logging.getLogger(__name__)


class Result(Enum):
    DONE = "done"
    IGNORED = "ignored"
    FAILED = "failed"
    SKIPPED = "skipped"  # finished already, or another worker holds it


class RetryLater(Exception):
    """The attempt failed and the row is back to `received`; the queue should retry."""


class Processor:
    def __init__(
        self,
        inbox: Inbox,
        handlers: Mapping[str, Handler],
        *,
        max_attempts: int,
        processing_timeout: timedelta,
        priority: DeliveriesFirst | None = None,
    ) -> None:
        self.priority = priority or NoPriority()
        self.inbox = inbox
        self.handlers = handlers
        self.max_attempts = max_attempts
        self.processing_timeout = processing_timeout

    def process(self, inbox_id: int) -> Result:
        self.priority.defer()
        claimed = self.inbox.claim(inbox_id, processing_timeout=self.processing_timeout)
        if claimed is None:
            return Result.SKIPPED
        after_commit: list[Callable[[], None]] = []
        try:
            event = events.parse(claimed.body.encode("utf-8", "surrogatepass"))
            handler = self.handlers.get(event.name)
            with self.inbox.engine.begin() as conn:
                ctx = Context(conn, claimed.id, event, after_commit)
                outcome = "ignored" if handler is None else handler(ctx)
                self.inbox.finish(conn, claimed.id, outcome)
        except Exception as exc:
            # A stored body that no longer parses will not parse on a retry either.
            final = claimed.attempts >= self.max_attempts or isinstance(exc, events.EventError)
            error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "inbox %s (%s) attempt %s failed: %s",
                claimed.id,
                claimed.event,
                claimed.attempts,
                error,
                exc_info=not isinstance(exc, events.EventError),
            )
            self.inbox.fail(claimed.id, error, final=final)
            metrics.EVENTS_PROCESSED.labels(claimed.event, "failed" if final else "retry").inc()
            if final:
                return Result.FAILED
            raise RetryLater(error) from exc
        for action in after_commit:
            try:
                action()
            except Exception:
                # Committed is what counts: the sweepers pick up whatever was not enqueued.
                log.warning("after-commit action of inbox %s failed", claimed.id, exc_info=True)
        metrics.EVENTS_PROCESSED.labels(claimed.event, outcome).inc()
        log.debug(
            "inbox %s (%s) %s",
            claimed.id,
            claimed.event,
            outcome,
            extra={"inbox_id": claimed.id, "event": claimed.event},
        )
        return Result(outcome)
