"""A hand-written minimal Zoom webhook ingest: the bar zoomhooks is measured against.

It does the same durable work per delivery as the service, with nothing else around it:

* reads the raw body, checks the timestamp window and `x-zm-signature` in constant time
  (`hmac.compare_digest`), parses the JSON and takes `event`, `event_ts`, `account_id`;
* computes the same dedupe key (SHA-256 of the canonical JSON, volatile fields left out) with
  the service's own `service.webhooks.dedupe.dedupe_key`, the one piece of the service it reuses;
* one transaction: `INSERT ... ON CONFLICT (dedupe_key) DO NOTHING RETURNING id` into a
  `webhook_events` table with the service's columns, constraints and indexes (a duplicate bumps
  `deliveries` instead), committed with the service's durability settings: SQLite with
  journal_mode=WAL, synchronous=FULL, BEGIN IMMEDIATE; or PostgreSQL with its defaults;
* enqueues a Dramatiq message carrying the row id on a broker of the same kind (StubBroker when
  BROKER_URL is unset; RabbitMQ with publisher confirms; Redis), then answers 200 JSON.

With the embedded broker the service runs 4 worker threads in the web process that claim each
row (`received` -> `processing`, one commit) and finish it (`done`, a second commit); so does
this baseline (`BASELINE_WORKER=claim-finish`, the default, with ZOOMHOOKS_WORKER_THREADS
threads). `BASELINE_WORKER=done` marks rows done in one commit; `none` leaves the queue alone.
With a real broker neither side consumes: the service's workers are separate processes then.

The blocking part (verify, parse, insert, enqueue) runs in Starlette's threadpool, one hop per
request, as the service's does (`BASELINE_MODE=thread`, default); `BASELINE_MODE=inline` runs
it on the event loop instead, to show what the hop costs.

Run it as the service runs: `python baseline.py --host 127.0.0.1 --port P` serves it with the
same uvicorn settings as `zoomhooks serve` (one process, default loop and HTTP implementation,
no access log, no log config, proxy headers on). Environment: DATABASE_URL, BROKER_URL,
ZOOM_WEBHOOK_SECRET_TOKEN, ZOOMHOOKS_QUEUE_PREFIX, ZOOMHOOKS_WORKER_THREADS, as for the service.
BASELINE_FAULT_SKIP_EVERY=n makes it acknowledge every n-th delivery without storing it: only to
check that the benchmark reports lost events.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

import dramatiq
import uvicorn
from dramatiq.brokers.stub import StubBroker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.webhooks.dedupe import dedupe_key

TOLERANCE_SECONDS = 2 * 60 * 60
FUTURE_SKEW_SECONDS = 5 * 60
PG_POOL_SIZE = 10

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_events (
    id INTEGER NOT NULL PRIMARY KEY,
    event VARCHAR(100) NOT NULL,
    event_ts BIGINT,
    account_id VARCHAR(64),
    received_at DATETIME NOT NULL,
    dedupe_key VARCHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'received',
    attempts INTEGER NOT NULL DEFAULT 0,
    deliveries INTEGER NOT NULL DEFAULT 1,
    last_error TEXT,
    updated_at DATETIME NOT NULL,
    processed_at DATETIME,
    request_timestamp BIGINT,
    zm_trackingid VARCHAR(200),
    zm_request_id VARCHAR(200),
    body TEXT NOT NULL,
    CONSTRAINT uq_webhook_events_dedupe_key UNIQUE (dedupe_key),
    CONSTRAINT ck_webhook_events_status
        CHECK (status IN ('received', 'processing', 'done', 'failed', 'ignored'))
);
CREATE INDEX IF NOT EXISTS ix_webhook_events_status_updated_at
    ON webhook_events (status, updated_at);
CREATE INDEX IF NOT EXISTS ix_webhook_events_event_event_ts ON webhook_events (event, event_ts);
CREATE INDEX IF NOT EXISTS ix_webhook_events_received_at ON webhook_events (received_at);
"""

PG_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS webhook_events (
    id BIGSERIAL PRIMARY KEY,
    event VARCHAR(100) NOT NULL,
    event_ts BIGINT,
    account_id VARCHAR(64),
    received_at TIMESTAMPTZ NOT NULL,
    dedupe_key VARCHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'received',
    attempts INTEGER NOT NULL DEFAULT 0,
    deliveries INTEGER NOT NULL DEFAULT 1,
    last_error TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    processed_at TIMESTAMPTZ,
    request_timestamp BIGINT,
    zm_trackingid VARCHAR(200),
    zm_request_id VARCHAR(200),
    body TEXT NOT NULL,
    CONSTRAINT uq_webhook_events_dedupe_key UNIQUE (dedupe_key),
    CONSTRAINT ck_webhook_events_status
        CHECK (status IN ('received', 'processing', 'done', 'failed', 'ignored'))
)""",
    "CREATE INDEX IF NOT EXISTS ix_webhook_events_status_updated_at"
    " ON webhook_events (status, updated_at)",
    "CREATE INDEX IF NOT EXISTS ix_webhook_events_event_event_ts"
    " ON webhook_events (event, event_ts)",
    "CREATE INDEX IF NOT EXISTS ix_webhook_events_received_at ON webhook_events (received_at)",
)

INSERT = """
INSERT INTO webhook_events (event, event_ts, account_id, received_at, dedupe_key, status,
    updated_at, request_timestamp, zm_trackingid, zm_request_id, body)
VALUES ({p}, {p}, {p}, {p}, {p}, 'received', {p}, {p}, {p}, {p}, {p})
ON CONFLICT (dedupe_key) DO NOTHING RETURNING id
"""
BUMP = "UPDATE webhook_events SET deliveries = deliveries + 1 WHERE dedupe_key = {p} RETURNING id"
CLAIM = """
UPDATE webhook_events SET status = 'processing', attempts = attempts + 1, updated_at = {p}
WHERE id = {p} AND status = 'received' RETURNING event, body
"""
FINISH = """
UPDATE webhook_events SET status = {p}, processed_at = {p}, updated_at = {p}, last_error = NULL
WHERE id = {p} AND status = 'processing'
"""


class Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


Row = tuple[str, int | None, str | None, str, str, int, str | None, str | None, str]


class Store(Protocol):
    def record(self, row: Row) -> tuple[int, bool]: ...
    def claim(self, row_id: int) -> tuple[str, str] | None: ...
    def finish(self, row_id: int, status: str) -> None: ...
    def mark_done(self, row_id: int) -> None: ...
    def close(self) -> None: ...


def _now() -> datetime:
    return datetime.now(UTC)


def _sqlite_now() -> str:
    # What the service's UTCDateTime stores on SQLite: naive UTC, ISO text with microseconds.
    return _now().replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class SqliteStore:
    """One connection per thread, the service's pragmas, one IMMEDIATE transaction per write."""

    def __init__(self, path: str, *, write_lock: bool) -> None:
        self.path = path
        self.local = threading.local()
        # SQLite allows one writer; waiting in its busy handler means sleeping 1..100 ms between
        # retries. A process-wide lock queues the writers instead (same commits, same fsyncs).
        self.write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if write_lock else contextlib.nullcontext()
        )
        self.conns: list[sqlite3.Connection] = []
        conn = self._conn()
        conn.executescript(SQLITE_SCHEMA)
        q = "?"
        self.insert = INSERT.format(p=q)
        self.bump = BUMP.format(p=q)
        self.claim_sql = CLAIM.format(p=q)
        self.finish_sql = FINISH.format(p=q)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA foreign_keys=ON")
            self.local.conn = conn
            self.conns.append(conn)
        return conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        with self.write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def record(self, row: Row) -> tuple[int, bool]:
        event, event_ts, account_id, dedupe, body, req_ts, tracking, request_id, now = row
        with self._tx() as conn:
            got = conn.execute(
                self.insert,
                (event, event_ts, account_id, now, dedupe, now, req_ts, tracking, request_id, body),
            ).fetchone()
            if got is not None:
                return int(got[0]), False
            existing = conn.execute(self.bump, (dedupe,)).fetchone()
            return int(existing[0]), True

    def claim(self, row_id: int) -> tuple[str, str] | None:
        with self._tx() as conn:
            got = conn.execute(self.claim_sql, (_sqlite_now(), row_id)).fetchone()
        return None if got is None else (str(got[0]), str(got[1]))

    def finish(self, row_id: int, status: str) -> None:
        now = _sqlite_now()
        with self._tx() as conn:
            conn.execute(self.finish_sql, (status, now, now, row_id))

    def mark_done(self, row_id: int) -> None:
        now = _sqlite_now()
        with self._tx() as conn:
            conn.execute(
                "UPDATE webhook_events SET status = 'done', processed_at = ?, updated_at = ?"
                " WHERE id = ? AND status = 'received'",
                (now, now, row_id),
            )

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):
                conn.close()


class PostgresStore:
    """A fixed pool of psycopg connections (the service's pool size), one transaction a write."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.pool: queue.Queue[Any] = queue.Queue()
        self.all: list[Any] = []
        for _ in range(PG_POOL_SIZE):
            conn = psycopg.connect(url, connect_timeout=3)
            self.pool.put(conn)
            self.all.append(conn)
        with self._tx() as conn:
            for statement in PG_SCHEMA:
                conn.execute(statement)
        q = "%s"
        self.insert = INSERT.format(p=q)
        self.bump = BUMP.format(p=q)
        self.claim_sql = CLAIM.format(p=q)
        self.finish_sql = FINISH.format(p=q)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Any]:
        conn = self.pool.get()
        try:
            with conn.transaction():
                yield conn
        finally:
            self.pool.put(conn)

    def record(self, row: Row) -> tuple[int, bool]:
        event, event_ts, account_id, dedupe, body, req_ts, tracking, request_id, _ = row
        now = _now()
        with self._tx() as conn:
            got = conn.execute(
                self.insert,
                (event, event_ts, account_id, now, dedupe, now, req_ts, tracking, request_id, body),
            ).fetchone()
            if got is not None:
                return int(got[0]), False
            existing = conn.execute(self.bump, (dedupe,)).fetchone()
            return int(existing[0]), True

    def claim(self, row_id: int) -> tuple[str, str] | None:
        with self._tx() as conn:
            got = conn.execute(self.claim_sql, (_now(), row_id)).fetchone()
        return None if got is None else (str(got[0]), str(got[1]))

    def finish(self, row_id: int, status: str) -> None:
        now = _now()
        with self._tx() as conn:
            conn.execute(self.finish_sql, (status, now, now, row_id))

    def mark_done(self, row_id: int) -> None:
        now = _now()
        with self._tx() as conn:
            conn.execute(
                "UPDATE webhook_events SET status = 'done', processed_at = %s, updated_at = %s"
                " WHERE id = %s AND status = 'received'",
                (now, now, row_id),
            )

    def close(self) -> None:
        for conn in self.all:
            with contextlib.suppress(Exception):
                conn.close()


def open_store(database_url: str, *, sqlite_write_lock: bool) -> Store:
    scheme, _, rest = database_url.partition("://")
    if scheme.startswith("sqlite"):
        # sqlite:////abs/path -> /abs/path ; sqlite:///rel/path -> rel/path
        path = rest[1:] if rest.startswith("/") else rest
        return SqliteStore(path, write_lock=sqlite_write_lock)
    if scheme.startswith("postgresql"):
        return PostgresStore("postgresql://" + rest)
    raise SystemExit(f"baseline: unsupported DATABASE_URL scheme {scheme!r}")


def open_broker(broker_url: str | None, queue_prefix: str) -> dramatiq.Broker:
    if not broker_url:
        return StubBroker()
    if broker_url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=broker_url, confirm_delivery=True)
    from dramatiq.brokers.redis import RedisBroker

    return RedisBroker(url=broker_url, namespace=f"{queue_prefix}-dramatiq")  # type: ignore[no-untyped-call]


class Baseline:
    def __init__(self, env: dict[str, str]) -> None:
        secret = env.get("ZOOM_WEBHOOK_SECRET_TOKEN", "")
        if not secret:
            raise SystemExit("baseline: ZOOM_WEBHOOK_SECRET_TOKEN is not set")
        self.secret = secret.encode("utf-8")
        self.sqlite = env.get("DATABASE_URL", "").startswith("sqlite")
        lock = env.get("BASELINE_SQLITE_LOCK", "python")
        self.store = open_store(env["DATABASE_URL"], sqlite_write_lock=lock == "python")
        prefix = env.get("ZOOMHOOKS_QUEUE_PREFIX", "zoomhooks")
        broker_url = env.get("BROKER_URL") or None
        self.broker = open_broker(broker_url, prefix)
        self.embedded = broker_url is None
        self.mode = env.get("BASELINE_MODE", "thread")
        self.worker_kind = env.get("BASELINE_WORKER", "claim-finish") if self.embedded else "none"
        self.worker_threads = int(env.get("ZOOMHOOKS_WORKER_THREADS", "4"))
        self.actor: dramatiq.Actor[[int], None] = dramatiq.Actor(
            self.process,
            broker=self.broker,
            actor_name="baseline_process",
            queue_name=f"{prefix}.webhooks",
            priority=0,
            options={},
        )
        self.worker: dramatiq.Worker | None = None
        # Self-test of the benchmark only: answer 200 without storing every n-th delivery.
        self.fault_skip_every = int(env.get("BASELINE_FAULT_SKIP_EVERY", "0"))
        self.fault_counter = 0
        self.fault_lock = threading.Lock()

    # -- the worker side -------------------------------------------------------------------
    def process(self, row_id: int) -> None:
        if self.worker_kind == "done":
            self.store.mark_done(row_id)
            return
        claimed = self.store.claim(row_id)
        if claimed is None:
            return
        event, body = claimed
        json.loads(body)
        self.store.finish(row_id, "done" if "." in event else "ignored")

    def start(self) -> None:
        if self.worker_kind != "none":
            self.worker = dramatiq.Worker(
                self.broker,
                queues={self.actor.queue_name},
                worker_threads=self.worker_threads,
                worker_timeout=1000,
            )
            self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop(timeout=30_000)
        self.broker.close()
        self.store.close()

    # -- the web side ----------------------------------------------------------------------
    def ingest(
        self,
        body: bytes,
        timestamp: str | None,
        signature: str | None,
        tracking: str | None,
        request_id: str | None,
    ) -> tuple[int, bool]:
        if not signature or not timestamp:
            raise Rejected(401, "missing signature or timestamp")
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            raise Rejected(401, "bad timestamp")
        sent_at = int(timestamp)
        now = time.time()
        if not now - TOLERANCE_SECONDS <= sent_at <= now + FUTURE_SKEW_SECONDS:
            raise Rejected(401, "timestamp outside the window")
        message = b"v0:" + timestamp.encode("ascii") + b":" + body
        expected = b"v0=" + hmac.new(self.secret, message, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(expected, signature.strip().encode("utf-8", "surrogateescape")):
            raise Rejected(401, "signature does not match")
        try:
            text = body.decode("utf-8")
            data = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            raise Rejected(400, "not a JSON body") from None
        if not isinstance(data, dict) or not isinstance(data.get("event"), str):
            raise Rejected(400, "not an event")
        payload = data.get("payload")
        if not isinstance(payload, dict):
            raise Rejected(400, "no payload")
        event_ts = data.get("event_ts")
        account_id = payload.get("account_id")
        row: Row = (
            data["event"][:100],
            event_ts if type(event_ts) is int else None,
            account_id[:64] if isinstance(account_id, str) and account_id else None,
            dedupe_key(data),
            text,
            sent_at,
            tracking[:200] if tracking else None,
            request_id[:200] if request_id else None,
            _sqlite_now(),
        )
        if self.fault_skip_every:
            with self.fault_lock:
                self.fault_counter += 1
                if self.fault_counter % self.fault_skip_every == 0:
                    return 0, False
        row_id, duplicate = self.store.record(row)
        if not duplicate:
            self.actor.send(row_id)
        return row_id, duplicate

    async def webhook(self, request: Request) -> Response:
        body = await request.body()
        h = request.headers
        args = (
            body,
            h.get("x-zm-request-timestamp"),
            h.get("x-zm-signature"),
            h.get("x-zm-trackingid"),
            h.get("x-zm-request-id"),
        )
        try:
            if self.mode == "inline":
                row_id, duplicate = self.ingest(*args)
            else:
                row_id, duplicate = await run_in_threadpool(self.ingest, *args)
        except Rejected as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        return JSONResponse({"status": "duplicate" if duplicate else "accepted", "id": row_id})

    async def readyz(self, _request: Request) -> Response:
        return JSONResponse({"status": "ready"})


def create_app() -> Starlette:
    baseline = Baseline(dict(os.environ))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        baseline.start()
        try:
            yield
        finally:
            baseline.stop()

    return Starlette(
        routes=[
            Route("/webhooks/zoom", baseline.webhook, methods=["POST"]),
            Route("/readyz", baseline.readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the baseline ingest app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    # The same uvicorn.Config as `zoomhooks serve` (service/cli.py).
    config = uvicorn.Config(
        create_app(),
        host=args.host,
        port=args.port,
        access_log=False,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
