"""One measured run of the follow-up benchmark, in a process of its own.

    python bench/followup/worker.py service --database URL --api URL --oauth URL --uuid U ...
    python bench/followup/worker.py raw     --database URL --api URL --oauth URL --uuid U ...

`service` is zoomhooks' own path: a `Runtime` built from `Settings`, the participants job of the
instance created the way production creates it (a signed `webinar.ended` through the ingestor,
then the processor), then `runtime.runner.run(job)` timed. `raw` is the baseline: the same
`ZoomClient` fetches the same pages, and a hand-written loop stores each page with one DBAPI
`executemany` of `INSERT ... ON CONFLICT DO UPDATE` into the same `participants` table, one
transaction per page (as the service commits per page).

Each prints one JSON object on stdout: rows, seconds (total and per phase) and the process's
peak RSS (`VmHWM`; `peak_rss_kib` says why not `ru_maxrss`) before and after the timed part.
The driver runs each in a fresh process so that the peak RSS is this run's alone.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import hashlib
import json
import os
import resource
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import procstat  # noqa: E402
from service.devtools.fakezoom import (  # noqa: E402
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
)
from service.zoom import ZoomClient  # noqa: E402

#: The webhook secret of the benchmark's runtime (the event is signed and verified for real).
SECRET = "bench-followup-secret"
#: The `inbox_id`/`followup_id` the baseline writes; the service writes its own job's ids.
#: Both are bookkeeping columns, left out of the driver's comparison of the stored rows.
RAW_INBOX_ID = 1
RAW_FOLLOWUP_ID = 1


def status_kib(field_name: str) -> int:
    """A `/proc/self/status` memory figure (KiB); 0 where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_kib() -> int:
    """This process's peak resident set so far (KiB).

    `VmHWM`, the high-water mark of this process's own address space. `ru_maxrss` is not this
    process's alone on Linux: across fork and exec it starts from the parent's peak (a driver
    that has grown to 130 MiB hands 130 MiB to every worker it starts). Where /proc is missing,
    ru_maxrss it is.
    """
    return status_kib("VmHWM") or maxrss_kib()


def maxrss_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def current_rss_kib() -> int:
    return status_kib("VmRSS")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Phases:
    """Seconds spent per phase of the timed run, and how often each was entered."""

    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.counts[name] = self.counts.get(name, 0) + 1


def timed_pages(pages: Iterable[Any], phases: Phases) -> Iterator[Any]:
    """`pages`, with the time spent waiting for each (request, fake, JSON parsing) in `fetch`."""
    iterator = iter(pages)
    while True:
        start = time.perf_counter()
        try:
            page = next(iterator)
        except StopIteration:
            phases.add("fetch", time.perf_counter() - start)
            return
        phases.add("fetch", time.perf_counter() - start)
        yield page


@contextlib.contextmanager
def profiled(path: str | None) -> Iterator[None]:
    """Run the block under cProfile and dump the stats to `path` (nothing if None)."""
    if not path:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        profile.dump_stats(path)


def warm_up(client: ZoomClient, args: argparse.Namespace) -> None:
    """One call outside the timed part: what a worker that has run a job before already has.

    It imports httpcore/h11 (httpx's transport is built lazily), gets the OAuth token (cached
    for an hour, so not a per-job cost) and opens the keep-alive connection. `pastWebinars` is
    counted apart from the participants calls the benchmark checks.
    """
    client.past_webinar_instances(args.webinar_id)


def client_for(args: argparse.Namespace, token_store: Any = None) -> ZoomClient:
    return ZoomClient(
        account_id=DEFAULT_ACCOUNT_ID,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        api_base_url=args.api,
        oauth_url=args.oauth,
        token_store=token_store,
    )


# -- the service ------------------------------------------------------------------------------


def env_name(settings: Any, field_name: str) -> str:
    """The first environment name of a Settings field (its `validation_alias`)."""
    alias = settings.model_fields[field_name].validation_alias
    choices = getattr(alias, "choices", None)
    if choices and isinstance(choices[0], str):
        return str(choices[0])
    return str(alias) if isinstance(alias, str) else field_name


def ended_event(args: argparse.Namespace) -> bytes:
    obj = {
        "id": str(args.webinar_id),
        "uuid": args.uuid,
        "host_id": "bench-host",
        "topic": "Follow-up benchmark",
        "type": 5,
        "start_time": "2024-03-01T14:00:00Z",
        "end_time": "2024-03-01T15:00:00Z",
        "duration": 60,
    }
    data = {
        "event": "webinar.ended",
        "payload": {"account_id": "bench-account", "object": obj},
        "event_ts": int(time.time() * 1000),
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def run_service(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import select

    from service import logs
    from service.config import Settings
    from service.processing import followup, sources
    from service.runtime import Runtime
    from service.storage import migrate, records
    from service.storage.models import followups
    from service.webhooks.signature import sign

    values: dict[str, Any] = {
        "database_url": args.database,
        "webhook_secret_token": SECRET,
        "queue_prefix": f"zhbench_{uuid.uuid4().hex[:10]}",
        "log_level": args.log_level,
        "zoom_account_id": DEFAULT_ACCOUNT_ID,
        "zoom_client_id": DEFAULT_CLIENT_ID,
        "zoom_client_secret": DEFAULT_CLIENT_SECRET,
        "zoom_api_base_url": args.api,
        "zoom_oauth_url": args.oauth,
        "followup_delay_seconds": 0,
        # As much of Zoom's pace as a Business+ account allows: the service paces its calls,
        # the raw baseline does not, and this measures storage, not the governor.
        "zoom_plan": "business",
        "zoom_rate_share": 1.0,
    }
    # By their environment names (DATABASE_URL, ZOOM_*, ZOOMHOOKS_*): what Settings reads
    # whether or not it also accepts field names. No environment and no .env file count.
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{env_name(Settings, name): value for name, value in values.items()},
    )
    logs.configure(settings.log_level)
    runtime = Runtime(settings)
    try:
        migrate.upgrade(runtime.engine)
        body = ended_event(args)
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": sign(SECRET.encode(), timestamp, body),
        }
        accepted = runtime.ingestor.ingest(body, headers)
        inbox_id = getattr(accepted, "inbox_id", None)
        if not isinstance(inbox_id, int):
            raise RuntimeError(f"the webinar.ended event was not stored: {accepted!r}")
        runtime.processor.process(inbox_id)
        with runtime.engine.connect() as conn:
            job = conn.execute(
                select(followups.c.id).where(
                    followups.c.instance_uuid == args.uuid,
                    followups.c.resource == "participants",
                )
            ).scalar_one()

        # Instrumentation, in this process only (the service's code is not changed): the time
        # spent in the page iterator (fetch), in shaping (shape), in `upsert_fetched` (upsert:
        # building the statement and the parameters, and the executemany) and in the DBAPI
        # COMMITs (commit). The rest, `other`, is claiming the job, BEGIN and the heartbeat per
        # page, and marking the job done.
        phases = Phases()
        source = sources.SOURCES[("webinar", "participants")]
        assert isinstance(source, sources.Fetched)
        shape = source.shape
        fetch = followup.fetch

        def timed_fetch(
            client: ZoomClient, endpoint_: Any, uuid_: str, on_restart: Any, query: Any = None
        ) -> Iterator[Any]:
            return timed_pages(fetch(client, endpoint_, uuid_, on_restart, query), phases)

        def timed_shape(page: list[dict[str, Any]]) -> Iterator[Any]:
            start = time.perf_counter()
            rows = list(shape(page))
            phases.add("shape", time.perf_counter() - start)
            return iter(rows)

        upsert = records.upsert_fetched

        def timed_upsert(*a: Any, **kw: Any) -> int:
            start = time.perf_counter()
            stored = upsert(*a, **kw)
            phases.add("upsert", time.perf_counter() - start)
            return stored

        dialect: Any = runtime.engine.dialect
        do_commit = dialect.do_commit

        def timed_commit(dbapi_connection: Any) -> None:
            start = time.perf_counter()
            do_commit(dbapi_connection)
            phases.add("commit", time.perf_counter() - start)

        sources.SOURCES[("webinar", "participants")] = dataclasses.replace(
            source, shape=timed_shape
        )
        followup.fetch = timed_fetch  # type: ignore[assignment]
        dialect.do_commit = timed_commit
        records.upsert_fetched = timed_upsert

        if not args.cold:
            client = runtime.zoom.for_account(DEFAULT_ACCOUNT_ID)
            assert client is not None
            warm_up(client, args)
        # The PostgreSQL server's processes work for this run too: not "other" load.
        postgres = not args.database.startswith("sqlite")
        server_before = procstat.named_processes_cpu_seconds("postgres") if postgres else 0.0
        rss_before = peak_rss_kib()
        cpu_before = cpu_seconds()
        busy_before = procstat.machine_busy_seconds()
        start = time.perf_counter()
        with profiled(args.profile):
            later = runtime.runner.run(job)
        seconds = time.perf_counter() - start
        cpu = cpu_seconds() - cpu_before
        busy = procstat.machine_busy_seconds() - busy_before
        server = (
            procstat.named_processes_cpu_seconds("postgres") - server_before if postgres else 0.0
        )
        rss_after = peak_rss_kib()
        rss_now = current_rss_kib()

        with runtime.engine.connect() as conn:
            status, stored, error = conn.execute(
                select(followups.c.status, followups.c.rows_stored, followups.c.last_error).where(
                    followups.c.id == job
                )
            ).one()
        if later is not None or status != "done":
            raise RuntimeError(f"the job did not finish: {status} {error} (later={later})")
    finally:
        runtime.close()
    return result(
        "service",
        args,
        int(stored or 0),
        seconds,
        cpu,
        busy,
        server,
        phases,
        rss_before,
        rss_after,
        rss_now,
    )


# -- the hand-written baseline ------------------------------------------------------------------

COLUMNS = (
    "instance_uuid",
    "row_key",
    "id",
    "user_id",
    "registrant_id",
    "name",
    "user_email",
    "join_time",
    "leave_time",
    "duration",
    "status",
    "failover",
    "internal_user",
    "inbox_id",
    "followup_id",
)
#: What a conflict updates: every column but the key, as `upsert_fetched` does.
UPDATED = [c for c in COLUMNS if c not in ("instance_uuid", "row_key")]


def upsert_sql(placeholder: str) -> str:
    """The statement, from the constant column list above (no outside input)."""
    columns = ", ".join(COLUMNS)
    values = ", ".join(placeholder for _ in COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in UPDATED)
    return (
        f"INSERT INTO participants ({columns}) VALUES ({values}) "  # noqa: S608
        f"ON CONFLICT (instance_uuid, row_key) DO UPDATE SET {updates}"
    )


def sqlite_time(value: Any) -> str | None:
    """Zoom's `2024-03-01T14:10:56Z` as SQLAlchemy stores a naive UTC DATETIME on SQLite."""
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(" ", "microseconds")


def postgres_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def cut(value: Any, limit: int) -> Any:
    return value[:limit] if isinstance(value, str) else value


def raw_rows(
    records: list[dict[str, Any]], instance_uuid: str, to_time: Callable[[Any], Any]
) -> list[tuple[Any, ...]]:
    """The same row values `shape.participant_rows` + `upsert_fetched` store, written by hand.

    Same `row_key` (SHA-256 of the same canonical JSON), same truncations, same times; it trusts
    Zoom's types (strings, ints, booleans) where the service checks each field.
    """
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
    sha256 = hashlib.sha256
    rows = []
    for r in records:
        pid, user_id, name, email, join = (
            r.get("id"),
            r.get("user_id"),
            r.get("name"),
            r.get("user_email"),
            r.get("join_time"),
        )
        key = sha256(dumps([pid, user_id, name, email, join]).encode()).hexdigest()
        rows.append(
            (
                instance_uuid,
                key,
                cut(pid, 64),
                cut(user_id, 64),
                cut(r.get("registrant_id"), 64),
                name,
                email,
                to_time(join),
                to_time(r.get("leave_time")),
                r.get("duration"),
                cut(r.get("status"), 32),
                r.get("failover"),
                r.get("internal_user"),
                RAW_INBOX_ID,
                RAW_FOLLOWUP_ID,
            )
        )
    return rows


class RawStore:
    """One DBAPI connection; `store(rows)` is one transaction holding one executemany."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            path = url.split(":///", 1)[1]
            self.conn: Any = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # The service's pragmas (service/storage/db.py): WAL, a full fsync per commit.
            for pragma in (
                "journal_mode=WAL",
                "synchronous=FULL",
                "busy_timeout=10000",
                "foreign_keys=ON",
            ):
                self.conn.execute(f"PRAGMA {pragma}")
            self.sql = upsert_sql("?")
            self.to_time: Callable[[Any], Any] = sqlite_time
        else:
            import psycopg

            self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
            self.sql = upsert_sql("%s")
            self.to_time = postgres_time

    def store(self, rows: list[tuple[Any, ...]], phases: Phases) -> None:
        """BEGIN, one executemany (`upsert`), COMMIT (`commit`: the WAL fsync on SQLite)."""
        cursor = self.conn.cursor()
        try:
            if self.sqlite:
                cursor.execute("BEGIN IMMEDIATE")
            start = time.perf_counter()
            cursor.executemany(self.sql, rows)
            executed = time.perf_counter()
            phases.add("upsert", executed - start)
            if self.sqlite:
                cursor.execute("COMMIT")
            else:
                self.conn.commit()
            phases.add("commit", time.perf_counter() - executed)
        except BaseException:
            self.conn.rollback()
            raise
        finally:
            cursor.close()

    def close(self) -> None:
        self.conn.close()


def run_raw(args: argparse.Namespace) -> dict[str, Any]:
    store = RawStore(args.database)
    client = client_for(args)
    phases = Phases()
    stored = 0
    try:
        if not args.cold:
            warm_up(client, args)
        # The PostgreSQL server's processes work for this run too: not "other" load.
        postgres = not args.database.startswith("sqlite")
        server_before = procstat.named_processes_cpu_seconds("postgres") if postgres else 0.0
        rss_before = peak_rss_kib()
        cpu_before = cpu_seconds()
        busy_before = procstat.machine_busy_seconds()
        start = time.perf_counter()
        with profiled(args.profile):
            for page in timed_pages(client.past_webinar_participants(args.uuid), phases):
                begun = time.perf_counter()
                rows = raw_rows(page.records, args.uuid, store.to_time)
                phases.add("shape", time.perf_counter() - begun)
                if rows:
                    store.store(rows, phases)
                stored += len(rows)
        seconds = time.perf_counter() - start
        cpu = cpu_seconds() - cpu_before
        busy = procstat.machine_busy_seconds() - busy_before
        server = (
            procstat.named_processes_cpu_seconds("postgres") - server_before if postgres else 0.0
        )
        rss_after = peak_rss_kib()
        rss_now = current_rss_kib()
    finally:
        client.close()
        store.close()
    return result(
        "raw", args, stored, seconds, cpu, busy, server, phases, rss_before, rss_after, rss_now
    )


# -- both -------------------------------------------------------------------------------------


def result(
    mode: str,
    args: argparse.Namespace,
    stored: int,
    seconds: float,
    cpu: float,
    machine_busy: float,
    server_cpu: float,
    phases: Phases,
    rss_before: int,
    rss_after: int,
    rss_now: int,
) -> dict[str, Any]:
    missing = [p for p in ("fetch", "shape", "upsert", "commit") if p not in phases.counts]
    if missing and stored:
        # The service no longer calls what the instrumentation wraps: its time shows as `other`.
        print(f"[worker] {mode}: no time recorded for {missing}", file=sys.stderr)
    accounted = sum(phases.seconds.values())
    phase_seconds = {**phases.seconds, "other": max(0.0, seconds - accounted)}
    return {
        "mode": mode,
        "pid": os.getpid(),
        "rows_stored": stored,
        "seconds": seconds,
        "rows_per_second": stored / seconds if seconds > 0 else 0.0,
        "store_seconds": seconds - phases.seconds.get("fetch", 0.0),
        "cpu_seconds": cpu,
        "machine_busy_seconds": machine_busy,
        "db_server_cpu_seconds": server_cpu,
        "phases": phase_seconds,
        "phase_counts": phases.counts,
        "phases_not_instrumented": missing,
        "peak_rss_kib_before": rss_before,
        "peak_rss_kib": rss_after,
        "rss_kib_after": rss_now,
        "ru_maxrss_kib": maxrss_kib(),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("service", "raw"))
    parser.add_argument("--database", required=True, help="SQLAlchemy URL")
    parser.add_argument("--api", required=True, help="the fake's /v2 base URL")
    parser.add_argument("--oauth", required=True, help="the fake's /oauth/token URL")
    parser.add_argument("--uuid", required=True, help="the webinar instance's UUID")
    parser.add_argument("--webinar-id", type=int, required=True)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--cold", action="store_true", help="no warm-up call: time the first call's costs too"
    )
    parser.add_argument("--profile", metavar="PATH", help="cProfile the timed part into PATH")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_service(args) if args.mode == "service" else run_raw(args)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
