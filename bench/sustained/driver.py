"""Sustained load, end to end: a constant offered rate of deliveries for a minute, and whether
the in-process workers keep up while the endpoint stays fast.

Open loop: delivery i is due at start + i / rate whatever the server does, and its latency is
measured from that due time (so a stalled server cannot hide its stall by slowing the sender:
no coordinated omission). Every second the SQLite file is read (read-only) for how many rows
are acknowledged, processed and still waiting. After the load, the backlog's drain is timed.

Targets, side by side in one run: the embedded service (`zoomhooks serve`), and the minimal
baseline (one INSERT + one StubBroker enqueue on the event loop) with worker threads doing one
UPDATE per row. Loopback only; the load is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common, procstat
from bench.ingest import presign

HERE = Path(__file__).resolve().parent
ROOT = common.ROOT
VENV_BIN = ROOT / ".venv" / "bin"
RESULTS = HERE / "results"
WORK = HERE / ".work"
BASELINE = ROOT / "bench" / "ingest" / "baseline.py"
CLOSED_LOOPBACK = "http://127.0.0.1:9"
#: Connections the sender keeps open (Zoom delivers from many).
DEFAULT_CONNECTIONS = 64
#: Longest the backlog may take to drain after the load before the run gives up (seconds).
DEFAULT_DRAIN_LIMIT = 120.0
#: Longest one delivery may wait for its answer (Zoom's own limit is 3 s).
ANSWER_TIMEOUT = 10.0
#: How late the sender may start a delivery before the run says it could not offer the rate (ms).
SEND_LAG_WARN_MS = 100.0
FINISHED = ("done", "ignored")
COUNT_SQL = "SELECT status, count(*) FROM webhook_events GROUP BY status"
UNFINISHED = ("received", "processing")


@dataclass
class Sample:
    second: float
    acked: int
    processed: int
    backlog: int


@dataclass
class Result:
    target: str
    offered: int
    acked: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    load_seconds: float = 0.0
    #: When the last delivery was sent, from the start (the rate actually offered).
    send_seconds: float = 0.0
    #: The latest any delivery was sent after its due time (the sender's own lag).
    max_send_lag_ms: float = 0.0
    drain_seconds: float | None = None
    #: How long the drain was waited for (drain_seconds, or the limit when it never drained).
    drain_waited: float = 0.0
    processed_at_end_of_load: int = 0
    cpu_seconds: float = 0.0
    sender_cpu_seconds: float = 0.0
    #: Cores other processes used over the load and the drain: the noise in the numbers.
    other_cores: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        processed_total = self.samples[-1].processed if self.samples else 0
        # over everything watched: a backlog that never drained counts the whole wait
        e2e_seconds = self.load_seconds + self.drain_waited
        return {
            "target": self.target,
            "offered": self.offered,
            "offered_per_s": round(self.offered / self.send_seconds, 1)
            if self.send_seconds
            else None,
            "max_send_lag_ms": round(self.max_send_lag_ms, 1),
            "acked": self.acked,
            "failed": self.failed,
            "p50_ms": round(self.percentile(0.50), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "max_ms": round(max(self.latencies_ms, default=float("nan")), 2),
            "worked": self.processed_at_end_of_load,
            "max_backlog": max((s.backlog for s in self.samples), default=0),
            "drain_s": None if self.drain_seconds is None else round(self.drain_seconds, 2),
            "processed": processed_total,
            "e2e_per_s": round(processed_total / e2e_seconds, 1) if e2e_seconds else 0.0,
            "cpu_ms_per_delivery": round(1000 * self.cpu_seconds / self.acked, 3)
            if self.acked
            else None,
            "sender_cpu_s": round(self.sender_cpu_seconds, 2),
            "other_cores": round(self.other_cores, 2),
            "samples": [s.__dict__ for s in self.samples],
        }


def deliveries(count: int, secret: bytes, first_ts: int) -> list[bytes]:
    """Pre-signed raw requests, distinct by event_ts, signed now (as the ingest bench does)."""
    factory = presign.EventFactory(7, first_ts)
    stamp = str(int(time.time()))
    out = []
    for index in range(count):
        _, body = factory.event(index)
        request_id = str(uuid.UUID(int=factory.rng.getrandbits(128)))
        raw = presign.raw_request(
            body, stamp, presign.sign(secret, stamp, body), request_id, f"v=2.0&s={index}"
        )
        out.append(raw)
    return out


class Sender:
    """An open-loop sender over a pool of keep-alive HTTP/1.1 connections."""

    def __init__(self, port: int, connections: int) -> None:
        self.port = port
        self.connections = connections
        self.pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def open(self) -> None:
        for _ in range(self.connections):
            self.pool.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))

    async def close(self) -> None:
        while not self.pool.empty():
            _, writer = self.pool.get_nowait()
            writer.close()

    async def send(self, raw: bytes) -> int:
        reader, writer = await self.pool.get()
        try:
            writer.write(raw)
            status = await asyncio.wait_for(_read_response(reader), ANSWER_TIMEOUT)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            status = 0
        self.pool.put_nowait((reader, writer))
        return status


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


def counts(db: common.TempDatabase) -> dict[str, int]:
    with db.sqlite_readonly() as conn:
        rows = conn.execute(COUNT_SQL).fetchall()
    conn.close()
    return {str(status): int(n) for status, n in rows}


async def drive(
    result: Result, port: int, requests: list[bytes], rate: float, db: common.TempDatabase
) -> None:
    sender = Sender(port, DEFAULT_CONNECTIONS)
    await sender.open()
    loop = asyncio.get_running_loop()
    start = loop.time()
    pending: set[asyncio.Task[None]] = set()

    async def one(raw: bytes, due: float) -> None:
        status = await sender.send(raw)
        if status == 200:
            result.acked += 1
            result.latencies_ms.append(1000 * (loop.time() - due))
        else:
            result.failed += 1

    async def take_sample() -> None:
        found = await asyncio.to_thread(counts, db)
        result.samples.append(
            Sample(
                round(loop.time() - start, 1),
                result.acked,
                sum(found.get(s, 0) for s in FINISHED),
                sum(found.get(s, 0) for s in UNFINISHED),
            )
        )

    async def sample() -> None:
        while True:
            await asyncio.sleep(1.0)
            await take_sample()

    sampler = asyncio.create_task(sample())
    for index, raw in enumerate(requests):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        result.max_send_lag_ms = max(result.max_send_lag_ms, 1000 * (loop.time() - due))
        task = asyncio.create_task(one(raw, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    result.send_seconds = loop.time() - start
    if pending:
        await asyncio.wait(pending, timeout=ANSWER_TIMEOUT + 5)
    result.load_seconds = loop.time() - start
    found = await asyncio.to_thread(counts, db)
    result.processed_at_end_of_load = sum(found.get(s, 0) for s in FINISHED)
    drain_start = loop.time()
    while (
        sum(found.get(s, 0) for s in UNFINISHED) and loop.time() - drain_start < DEFAULT_DRAIN_LIMIT
    ):
        await asyncio.sleep(0.25)
        found = await asyncio.to_thread(counts, db)
    result.drain_waited = loop.time() - drain_start
    if not sum(found.get(s, 0) for s in UNFINISHED):
        result.drain_seconds = result.drain_waited
    sampler.cancel()
    await take_sample()
    await sender.close()


def run_target(
    target: str, rate: float, seconds: float, workdir: Path, secret: str, first_ts: int
) -> Result:
    count = int(rate * seconds)
    requests = deliveries(count, secret.encode(), first_ts)
    db = common.TempDatabase.fresh("sqlite", workdir, target)
    port, ops_port = common.free_port(), common.free_port()
    env = common.scrubbed_environ("BASELINE_")
    env.update(
        DATABASE_URL=db.url,
        ZOOM_WEBHOOK_SECRET_TOKEN=secret,
        ZOOMHOOKS_QUEUE_PREFIX=f"bench-sustained-{target}",
        ZOOM_API_BASE_URL=CLOSED_LOOPBACK,
        ZOOM_OAUTH_URL=CLOSED_LOOPBACK + "/oauth/token",
        PYTHONUNBUFFERED="1",
    )
    if target == "service":
        cmd = [
            *(str(VENV_BIN / "zoomhooks"), "serve", "--host", "127.0.0.1", "--port", str(port)),
            *("--ops-port", str(ops_port)),
        ]
    else:
        # One INSERT + one enqueue on the event loop; 4 worker threads, one UPDATE per row.
        env.update(BASELINE_MODE="inline", BASELINE_WORKER="done")
        cmd = [str(VENV_BIN / "python"), str(BASELINE), "--host", "127.0.0.1", "--port", str(port)]
    server = common.ServerProcess(
        target,
        cmd,
        port,
        workdir / f"{target}.log",
        cwd=workdir,
        env=env,
        ready_port=ops_port if target == "service" else None,
    )
    result = Result(target, count)
    try:
        server.start()
        cpu_before, busy_before = server.cpu_seconds(), procstat.machine_busy_seconds()
        sender_before, wall_before = time.process_time(), time.monotonic()
        print(f"[sustained] {target}: {count} deliveries at {rate:.0f}/s", flush=True)
        asyncio.run(drive(result, port, requests, rate, db))
        wall = time.monotonic() - wall_before
        result.cpu_seconds = server.cpu_seconds() - cpu_before
        result.sender_cpu_seconds = time.process_time() - sender_before
        result.other_cores = common.other_cores(
            procstat.machine_busy_seconds() - busy_before,
            result.cpu_seconds,
            result.sender_cpu_seconds,
            seconds=wall,
        )
        if result.other_cores > common.NOISY_OTHER_CORES:
            print(
                f"[sustained] {target}: WARNING other processes used {result.other_cores:.2f} "
                "cores meanwhile; the numbers are noisy",
                flush=True,
            )
        if result.max_send_lag_ms > SEND_LAG_WARN_MS:
            print(
                f"[sustained] {target}: WARNING the sender fell {result.max_send_lag_ms:.0f} ms "
                "behind its schedule; the rate offered was lower than asked",
                flush=True,
            )
    finally:
        server.stop()
        db.drop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=500.0, help="deliveries per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load")
    parser.add_argument(
        "--only", choices=("service", "minimal"), default=None, help="run one target"
    )
    args = parser.parse_args(argv)
    if not 0 < args.rate <= 5000 or not 0 < args.seconds <= 600:
        parser.error("need 0 < rate <= 5000 and 0 < seconds <= 600")
    stamp, workdir = common.new_run(WORK)
    secret = secrets.token_urlsafe(24)
    first_ts = int(time.time() * 1000) - 10_000_000
    targets = [args.only] if args.only else ["service", "minimal"]
    results = {
        t: run_target(t, args.rate, args.seconds, workdir, secret, first_ts) for t in targets
    }
    summaries = {t: r.summary() for t, r in results.items()}
    title = (
        f"zoomhooks sustained load — sqlite + embedded, {args.rate:.0f}/s for {args.seconds:.0f} s"
    )
    header = (
        f"{'target':<9} {'offered/s':>9} {'acked':>7} {'failed':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'worked':>7} {'max backlog':>11} {'drain s':>8} {'e2e/s':>7} "
        f"{'cpu ms/dlv':>10} {'other':>5}"
    )
    common.print_table_head(title, header)
    for name, s in summaries.items():
        drain = "never" if s["drain_s"] is None else f"{s['drain_s']:.1f}"
        print(
            f"{name:<9} {s['offered_per_s'] or 0:>9.1f} {s['acked']:>7} {s['failed']:>6} "
            f"{s['p50_ms']:>8.1f} {s['p99_ms']:>8.1f} {s['max_ms']:>8.1f} {s['worked']:>7} "
            f"{s['max_backlog']:>11} {drain:>8} {s['e2e_per_s']:>7.1f} "
            f"{s['cpu_ms_per_delivery'] or 0:>10.3f} {s['other_cores']:>5.2f}"
        )
    print(
        "worked = processed (done/ignored) when the load ended; e2e/s = processed / (load + "
        "drain, or the whole wait when it never drained); cpu = the server's, load and drain; "
        "other = cores used by other processes meanwhile (noise; 2 cores in all)."
    )
    ratio = None
    if "service" in summaries and "minimal" in summaries and summaries["minimal"]["e2e_per_s"]:
        ratio = round(summaries["service"]["e2e_per_s"] / summaries["minimal"]["e2e_per_s"], 3)
        print(f"\nratio service/minimal, ingested and processed per second: {ratio:.2f} (>= 0.8)")
    svc = summaries.get("service")
    if svc:
        checks = {
            "p99 < 50 ms": svc["p99_ms"] < 50,
            "drained within 30 s": svc["drain_s"] is not None and svc["drain_s"] <= 30,
            "every delivery acknowledged": svc["failed"] == 0,
        }
        print("service: " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items()))
    summary = {
        "stamp": stamp,
        "rate": args.rate,
        "seconds": args.seconds,
        "targets": summaries,
        "ratio_e2e": ratio,
        "service_code": common.service_fingerprint(),
    }
    path = common.write_summary(summary, RESULTS, f"sustained-{stamp}.json")
    print(f"summary: {path}")
    print(json.dumps({"ratio_e2e": ratio}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
