"""Ingesting one delivery: verify, parse, dedupe, store, enqueue. HTTP-free.

The store goes through the process's group commit (service.storage.groupcommit): concurrent
deliveries share one transaction, and each is answered only once its row has committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from service import metrics
from service.apps import DEFAULT_APP
from service.processing.process import Processor, Settled
from service.storage.groupcommit import GroupCommit
from service.storage.inbox import Inbox, NewEvent, Recorded
from service.webhooks import events, signature
from service.webhooks.dedupe import dedupe_key

log = logging.getLogger(__name__)

TRACKING_HEADER = "x-zm-trackingid"
REQUEST_ID_HEADER = "x-zm-request-id"
#: Longest header value kept on the inbox row (characters).
MAX_HEADER_LENGTH = 200
#: Longest a delivery waits for its commit before it is answered 503 (seconds).
DEFAULT_COMMIT_DEADLINE = 2.0


class NotConfigured(Exception):
    """No webhook secret is set: our fault, so Zoom should retry once it is fixed."""


class StorageUnavailable(Exception):
    """The inbox could not commit: Zoom must retry, so the caller answers 5xx."""


@dataclass(frozen=True, slots=True)
class Accepted:
    inbox_id: int
    duplicate: bool
    enqueued: bool
    event: str = ""


@dataclass(frozen=True, slots=True)
class Challenge:
    """A verified `endpoint.url_validation`: answer with `response`, store nothing."""

    response: dict[str, str]


class InboxWriter:
    """The inbox's group commit: one writer thread per process, an enqueue per batch.

    With a `processor` (`process_fresh`: the embedded default, whose workers are in this
    process anyway) each batch's new rows are processed inside the transaction that stores
    them; only the rows it could not settle are enqueued for the workers.
    """

    def __init__(self, inbox: Inbox, enqueue: Callable[[Sequence[int]], None]) -> None:
        self.inbox = inbox
        self.enqueue = enqueue
        self.processor: Processor | None = None
        # Written and read by the writer thread only: what the last batch settled.
        self._settled: Settled | None = None
        self.commits: GroupCommit[NewEvent, Recorded] = GroupCommit(
            self._write, after=self._enqueue_new, name="zoomhooks-inbox-writer"
        )

    def process_fresh(self, processor: Processor) -> None:
        """From now on, process new rows in the transaction that stores them."""
        self.processor = processor

    def _write(self, batch: Sequence[NewEvent]) -> list[Recorded]:
        self._settled = None
        if self.processor is None:
            return self.inbox.record_many(batch)
        return self.inbox.record_many(batch, within=self._process)

    def _process(self, conn: Connection, rows: Sequence[tuple[int, NewEvent]]) -> None:
        assert self.processor is not None
        self._settled = self.processor.process_fresh(conn, rows)

    def _enqueue_new(self, batch: Sequence[NewEvent], recorded: Sequence[Recorded]) -> None:
        metrics.INBOX_BATCH.observe(len(batch))
        settled, self._settled = self._settled, None
        done: Container[int] = ()
        if settled is not None and self.processor is not None:
            self.processor.after_commit(settled)
            done = settled.outcomes
        new = sorted({r.id for r in recorded if not r.duplicate and r.id not in done})
        if not new:
            return
        try:
            self.enqueue(new)
        except Exception:
            # Committed is what counts: the sweeper will enqueue the rows later.
            log.warning(
                "enqueue of %s inbox rows failed; the sweeper will retry", len(new), exc_info=True
            )

    def close(self) -> None:
        self.commits.close()


class Ingestor:
    def __init__(
        self,
        *,
        secrets: Sequence[bytes],
        inbox: Inbox,
        enqueue: Callable[[int], None],
        timestamp_tolerance_seconds: int,
        future_skew_seconds: int,
        app: str | None = None,
        clock: Callable[[], float] = time.time,
        writer: InboxWriter | None = None,
        commit_deadline: float = DEFAULT_COMMIT_DEADLINE,
    ) -> None:
        """`app` names the configured Zoom app whose endpoint this is (kept on each row).
        `writer` (the process's group commit) serves `ingest_async`; `ingest` stores alone."""
        self.app = app
        self.secrets = tuple(secrets)
        self.inbox = inbox
        self.enqueue = enqueue
        self.tolerance = timestamp_tolerance_seconds
        self.skew = future_skew_seconds
        self.clock = clock
        self.writer = writer
        self.commit_deadline = commit_deadline

    def prepare(self, body: bytes, headers: Mapping[str, str]) -> NewEvent | Challenge:
        """Verify and parse: the row to store, or the answer to a URL validation.

        Raises SignatureError (401), EventError (400), NotConfigured (503).
        """
        if not self.secrets:
            raise NotConfigured(
                "ZOOM_WEBHOOK_SECRET_TOKEN is not set"
                if self.app in (None, DEFAULT_APP)
                else f"app {self.app!r} has no secret token"
            )
        verified = signature.verify(
            secrets=self.secrets,
            signature=headers.get(signature.SIGNATURE_HEADER),
            timestamp=headers.get(signature.TIMESTAMP_HEADER),
            body=body,
            now=self.clock(),
            tolerance_seconds=self.tolerance,
            future_skew_seconds=self.skew,
        )
        event = events.parse(body)
        if event.name == events.URL_VALIDATION:
            token = events.plain_token(event)
            return Challenge(signature.url_validation_response(verified.secret, token))
        return NewEvent(
            event=event.name,
            event_ts=event.event_ts,
            account_id=event.account_id[:64] if event.account_id else None,
            dedupe_key=dedupe_key(event.data),
            body=event.text,
            request_timestamp=verified.timestamp,
            zm_trackingid=_header(headers, TRACKING_HEADER),
            zm_request_id=_header(headers, REQUEST_ID_HEADER),
            app=self.app,
            instance_uuid=_text(event.object.get("uuid")),
            parsed=event,
        )

    def ingest(self, body: bytes, headers: Mapping[str, str]) -> Accepted | Challenge:
        """Store one delivery in a transaction of its own, then enqueue it.

        Raises SignatureError (401), EventError (400), NotConfigured/StorageUnavailable (503).
        """
        new = self.prepare(body, headers)
        if isinstance(new, Challenge):
            return new
        try:
            recorded = self.inbox.record(new)
        except SQLAlchemyError as exc:
            log.error("inbox commit failed for %s: %s", new.event, type(exc).__name__)
            raise StorageUnavailable("the inbox is unavailable") from exc
        enqueued = False
        if not recorded.duplicate:
            try:
                self.enqueue(recorded.id)
                enqueued = True
            except Exception:
                # Committed is what counts: the sweeper will enqueue the row later.
                log.warning(
                    "enqueue of inbox %s failed; the sweeper will retry", recorded.id, exc_info=True
                )
        return self._accepted(new, recorded, enqueued=enqueued)

    async def ingest_async(self, new: NewEvent) -> Accepted:
        """Store a prepared delivery through the group commit; returns once it has committed.

        Raises StorageUnavailable (503) when the commit failed or did not come within the
        deadline (the row may still commit later: Zoom's retry is then a duplicate).
        """
        assert self.writer is not None, "ingest_async needs the process's InboxWriter"
        future = self.writer.commits.submit_async(new)
        try:
            async with asyncio.timeout(self.commit_deadline):
                recorded = await future
        except TimeoutError as exc:
            log.warning("inbox commit of %s took over %ss", new.event, self.commit_deadline)
            raise StorageUnavailable("the inbox is busy") from exc
        except SQLAlchemyError as exc:
            log.error("inbox commit failed for %s: %s", new.event, type(exc).__name__)
            raise StorageUnavailable("the inbox is unavailable") from exc
        return self._accepted(new, recorded, enqueued=not recorded.duplicate)

    def _accepted(self, new: NewEvent, recorded: Recorded, *, enqueued: bool) -> Accepted:
        # Deliveries are counted by metrics; a line each would cost more than the commit.
        log.debug(
            "webhook %s inbox=%s duplicate=%s",
            new.event,
            recorded.id,
            recorded.duplicate,
            extra={
                "inbox_id": recorded.id,
                "event": new.event,
                "instance_uuid": new.instance_uuid,
                "zm_trackingid": new.zm_trackingid,
            },
        )
        return Accepted(
            inbox_id=recorded.id, duplicate=recorded.duplicate, enqueued=enqueued, event=new.event
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value[:MAX_HEADER_LENGTH] if value else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
