"""Ingest benchmark driver: the real `zoomhooks serve` against the hand-written baseline.

For each target in turn (service, then baseline) on a fresh database and a free loopback port:
start the server, wait for /readyz, run a warm-up load, then the measured load of N pre-signed
distinct deliveries with wrk (requests.lua sends each exactly once), count the rows stored and
stop the server. Both targets get the very same request bytes.

Prints req/s (200 answers per second over the active span), p50 and p99 latency, the ratio
service/baseline, and `events lost` = 200s acknowledged minus rows stored for those events.
Exit status: 0 fine; 1 the service lost events; 2 setup or run failure; 3 the baseline lost events.
A JSON summary goes to bench/ingest/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import common, procstat
from bench.ingest import presign

HERE = Path(__file__).resolve().parent
ROOT = common.ROOT
VENV_BIN = ROOT / ".venv" / "bin"
RESULTS = HERE / "results"
WORK = HERE / ".work"
LUA = HERE / "requests.lua"
BASELINE = HERE / "baseline.py"
SERVICE_CLI = ROOT / "service" / "cli.py"

BROKER_URLS = {
    "stub": None,
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/%2F",
}
READY_TIMEOUT = 90.0
#: The discard port on loopback: nothing listens, so any Zoom API call fails at once, locally.
CLOSED_LOOPBACK = "http://127.0.0.1:9"
#: How long wrk may wait past the load's duration for the answers to requests in flight (s).
ANSWER_GRACE_S = 60
#: The local server process of each broker (`/proc/PID/comm`). Shared with anything else using
#: it meanwhile; a PostgreSQL database is this run's own, so only its backends are counted.
BROKER_PROCESS = {"redis": "redis-server", "rabbitmq": "beam.smp"}
COUNT_SQL = (
    "SELECT status, count(*) FROM webhook_events WHERE event_ts BETWEEN ? AND ? GROUP BY status"
)


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def infra_cpu_seconds(db: common.TempDatabase, broker: str) -> float:
    """CPU time so far of the database and broker servers working for this run (0 when embedded).

    Their CPU is part of what a delivery costs, not noise: counted apart from `other`.
    """
    total = 0.0
    if db.kind == "postgres" and db.name:
        # a backend's command line is "postgres: USER DATABASE HOST(PORT) STATE"
        total += procstat.named_processes_cpu_seconds("postgres", f" {db.name} ")
    if broker in BROKER_PROCESS:
        total += procstat.named_processes_cpu_seconds(BROKER_PROCESS[broker])
    return total


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- databases --------------------------------------------------------------------------------


class Database(common.TempDatabase):
    """A fresh database (`Database.fresh(kind, workdir, label)`) that counts the rows stored."""

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        if self.kind == "sqlite":
            conn = self.sqlite_readonly()
            try:
                yield conn
            finally:
                conn.close()
        else:
            import psycopg

            with psycopg.connect(self.dbapi_url, autocommit=True) as pg:
                yield pg

    def count(self, first_ts: int, last_ts: int) -> tuple[int, dict[str, int]]:
        """Rows whose event_ts lies in the range, and their statuses."""
        query = COUNT_SQL if self.kind == "sqlite" else COUNT_SQL.replace("?", "%s")
        with self._cursor() as conn:
            rows = conn.execute(query, (first_ts, last_ts)).fetchall()
        statuses = {str(status): int(n) for status, n in rows}
        return sum(statuses.values()), statuses


def cleanup_broker(broker: str, prefix: str) -> None:
    """Remove what a run left on a shared broker (best effort)."""
    url = BROKER_URLS[broker]
    if url is None:
        return
    with contextlib.suppress(Exception):
        if broker == "redis":
            import redis

            client = redis.Redis.from_url(url)
            keys = list(client.scan_iter(f"{prefix}-dramatiq*", count=1000))
            if keys:
                client.delete(*keys)
        else:
            import pika

            conn = pika.BlockingConnection(pika.URLParameters(url))
            channel = conn.channel()
            for name in ("webhooks", "followups"):
                for suffix in ("", ".DQ", ".XQ"):
                    with contextlib.suppress(Exception):
                        channel.queue_delete(queue=f"{prefix}.{name}{suffix}")
            conn.close()


# -- load -------------------------------------------------------------------------------------


@dataclass
class LoadSet:
    """One pre-signed set of deliveries, shared by both targets."""

    label: str
    prefix: Path
    meta: dict[str, Any]

    @property
    def first_ts(self) -> int:
        return int(self.meta["first_event_ts"])

    @property
    def last_ts(self) -> int:
        return int(self.meta["last_event_ts"])


def make_load(
    workdir: Path, label: str, count: int, threads: int, secret: str, first_ts: int, seed: int
) -> LoadSet:
    prefix = workdir / "requests" / label
    meta = presign.presign(
        out=prefix,
        count=count,
        threads=threads,
        secret=secret.encode("utf-8"),
        first_event_ts=first_ts,
        seed=seed,
    )
    return LoadSet(label, prefix, meta)


def run_wrk(
    *,
    port: int,
    load: LoadSet,
    threads: int,
    connections: int,
    duration: float,
    outdir: Path,
) -> dict[str, Any]:
    """Drive one load; returns the Lua summary. Ends early once every delivery is answered."""
    done_dir = outdir / f"{load.label}.done"
    shutil.rmtree(done_dir, ignore_errors=True)
    done_dir.mkdir(parents=True)
    result_path = outdir / f"{load.label}.wrk.json"
    result_path.unlink(missing_ok=True)
    env = dict(os.environ)
    env.update(
        BENCH_REQUESTS=str(load.prefix),
        BENCH_THREADS=str(threads),
        BENCH_RESULT=str(result_path),
        BENCH_DONE_DIR=str(done_dir),
        BENCH_DURATION=str(duration),
    )
    # requests.lua stops sending at `duration` and waits for the answers; -d is only a hard cap
    seconds = max(1, round(duration)) + ANSWER_GRACE_S
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}/webhooks/zoom",
    ]
    stdout_path = outdir / f"{load.label}.wrk.txt"
    with stdout_path.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + seconds + 30
        interrupted = False
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise common.BenchError(f"wrk did not finish; see {stdout_path}")
            if not interrupted and len(list(done_dir.iterdir())) >= threads:
                # every thread has all its answers: end now instead of idling until -d
                proc.send_signal(signal.SIGINT)
                interrupted = True
            time.sleep(0.02)
    if proc.returncode != 0 or not result_path.exists():
        raise common.BenchError(
            f"wrk failed ({proc.returncode}):\n{stdout_path.read_text(errors='replace')}"
        )
    result: dict[str, Any] = json.loads(result_path.read_text())
    result["stdout"] = str(stdout_path)
    return result


def summarize_load(result: dict[str, Any]) -> dict[str, Any]:
    totals = result["totals"]
    span_s = result["span_ns"] / 1e9 if result["span_ns"] > 0 else 0.0
    if result.get("clock") != "monotonic" or span_s <= 0:
        span_s = result["wrk"]["duration_us"] / 1e6
    pct = result["latency_us"]["percentiles"]
    ok = int(totals["ok"])
    return {
        "sent": int(totals["taken"]),
        "assigned": int(totals["own"]),
        "answered": int(totals["responses"]),
        "ok_200": ok,
        "resent": int(totals["resent"]),
        "non_2xx": int(result["non2xx"]),
        "statuses": result["statuses"],
        "socket_errors": result["wrk"]["errors"],
        "unanswered_at_stop": int(totals["taken"]) - int(totals["responses"]),
        "exhausted": bool(result["all_finished"]),
        "span_s": round(span_s, 3),
        "req_per_s": round(ok / span_s, 1) if span_s else 0.0,
        "answers_per_s": round(int(totals["responses"]) / span_s, 1) if span_s else 0.0,
        "latency_ms": {
            "p50": pct["50"] / 1000,
            "p75": pct["75"] / 1000,
            "p90": pct["90"] / 1000,
            "p99": pct["99"] / 1000,
            "p99.9": pct["99.9"] / 1000,
            "max": result["latency_us"]["max"] / 1000,
            "mean": round(result["latency_us"]["mean"] / 1000, 3),
        },
    }


# -- one target -------------------------------------------------------------------------------


@dataclass
class Options:
    events: int
    duration: float
    connections: int
    threads: int
    warmup_events: int
    warmup_duration: float
    backend: str
    broker: str
    targets: list[str]
    settle: float
    profile_targets: set[str]
    profile_gil: bool
    baseline_mode: str
    baseline_sqlite_lock: str
    baseline_worker: str
    keep: bool
    repeat: int
    extra_env: dict[str, str] = field(default_factory=dict)


#: The second baseline: the least an app can do durably per delivery, one INSERT and one
#: StubBroker enqueue on the event loop (no thread hop, no worker). Embedded mode only.
MINIMAL_ENV = {
    "BASELINE_MODE": "inline",
    "BASELINE_WORKER": "none",
    "BASELINE_SQLITE_LOCK": "sqlite",
}


def target_command(target: str, port: int, ops_port: int) -> list[str]:
    if target == "service":
        return [
            *(str(VENV_BIN / "zoomhooks"), "serve", "--host", "127.0.0.1", "--port", str(port)),
            *("--ops-port", str(ops_port)),
        ]
    return [str(VENV_BIN / "python"), str(BASELINE), "--host", "127.0.0.1", "--port", str(port)]


def run_target(
    target: str,
    opts: Options,
    *,
    stamp: str,
    workdir: Path,
    secret: str,
    warmup: LoadSet,
    measured: LoadSet,
    profile_load: LoadSet | None,
    round_no: int = 0,
) -> dict[str, Any]:
    label = f"{stamp}-{target}-r{round_no}"
    outdir = workdir / target / f"r{round_no}"
    outdir.mkdir(parents=True, exist_ok=True)
    db = Database.fresh(opts.backend, workdir, label)
    prefix = f"bench-{label}"
    port, ops_port = common.free_port(), common.free_port()
    env = common.scrubbed_environ("BASELINE_")
    env.update(
        DATABASE_URL=db.url,
        ZOOM_WEBHOOK_SECRET_TOKEN=secret,
        ZOOMHOOKS_QUEUE_PREFIX=prefix,
        PYTHONUNBUFFERED="1",
        # No Zoom credentials reach the servers (ZOOM_* is dropped above), and should a follow-up
        # try Zoom anyway, it meets a closed loopback port: the benchmark never leaves 127.0.0.1.
        ZOOM_API_BASE_URL=CLOSED_LOOPBACK,
        ZOOM_OAUTH_URL=CLOSED_LOOPBACK + "/oauth/token",
    )
    broker_url = BROKER_URLS[opts.broker]
    if broker_url:
        env["BROKER_URL"] = broker_url
    if target == "baseline":
        env.update(
            BASELINE_MODE=opts.baseline_mode,
            BASELINE_SQLITE_LOCK=opts.baseline_sqlite_lock,
            BASELINE_WORKER=opts.baseline_worker,
        )
    elif target == "minimal":
        env.update(MINIMAL_ENV)
    env.update(opts.extra_env)
    server = common.ServerProcess(
        target,
        target_command(target, port, ops_port),
        port,
        outdir / "server.log",
        cwd=outdir,
        env=env,
        ready_timeout=READY_TIMEOUT,
        ready_port=ops_port if target == "service" else None,
    )
    report: dict[str, Any] = {
        "target": target,
        "command": server.cmd,
        "database": db.kind,
        "broker": opts.broker,
        "env": {
            k: v
            for k, v in env.items()
            if k.startswith(("ZOOMHOOKS_", "BASELINE_", "BROKER_URL")) or k == "DATABASE_URL"
        },
        "log": str(server.log_path),
    }
    try:
        log(f"{target}: starting on 127.0.0.1:{port} ({db.kind}, broker {opts.broker})")
        started = time.monotonic()
        server.start()
        report["startup_s"] = round(time.monotonic() - started, 2)
        assert server.proc is not None
        report["pid"] = server.proc.pid

        log(f"{target}: warm-up, {warmup.meta['count']} events")
        wres = run_wrk(
            port=port,
            load=warmup,
            threads=opts.threads,
            connections=opts.connections,
            duration=opts.warmup_duration,
            outdir=outdir,
        )
        report["warmup"] = summarize_load(wres)
        time.sleep(opts.settle)

        log(f"{target}: measured load, {measured.meta['count']} events, <= {opts.duration:.0f} s")
        cpu_before = server.cpu_seconds()
        busy_before, wrk_before = procstat.machine_busy_seconds(), children_cpu_seconds()
        infra_before = infra_cpu_seconds(db, opts.broker)
        wall_before = time.monotonic()
        mres = run_wrk(
            port=port,
            load=measured,
            threads=opts.threads,
            connections=opts.connections,
            duration=opts.duration,
            outdir=outdir,
        )
        cpu = server.cpu_seconds() - cpu_before
        wall = time.monotonic() - wall_before
        busy = procstat.machine_busy_seconds() - busy_before
        wrk_cpu = children_cpu_seconds() - wrk_before
        infra_cpu = infra_cpu_seconds(db, opts.broker) - infra_before
        m = summarize_load(mres)
        # CPU the rest of the machine used meanwhile (other processes): noise in the numbers
        m["wrk_cpu_util"] = round(wrk_cpu / wall, 2)
        m["infra_cpu_util"] = round(infra_cpu / wall, 2)
        m["other_cpu_util"] = round(
            common.other_cores(busy, cpu, wrk_cpu, infra_cpu, seconds=wall), 2
        )
        if m["other_cpu_util"] > common.NOISY_OTHER_CORES:
            log(
                f"{target}: WARNING other processes used {m['other_cpu_util']:.2f} cores during "
                "the load; the numbers are noisy"
            )
        m["server_cpu_s"] = round(cpu, 2)
        m["server_cpu_util"] = round(cpu / m["span_s"], 2) if m["span_s"] else None
        m["server_cpu_ms_per_200"] = round(1000 * cpu / m["ok_200"], 3) if m["ok_200"] else None
        m["infra_cpu_ms_per_200"] = (
            round(1000 * infra_cpu / m["ok_200"], 3) if m["ok_200"] else None
        )
        _, at_end = db.count(measured.first_ts, measured.last_ts)
        time.sleep(opts.settle)
        stored, statuses = db.count(measured.first_ts, measured.last_ts)
        acked = max(0, m["ok_200"] - m["resent"])
        m.update(
            acked_distinct=acked,
            stored=stored,
            lost=max(0, acked - stored),
            stored_not_acked=max(0, stored - acked),
            statuses_at_end_of_load=at_end,
            statuses_after_settle=statuses,
            exact=m["unanswered_at_stop"] == 0 and m["non_2xx"] == 0 and m["resent"] == 0,
        )
        report["measured"] = m

        if profile_load is not None:
            report["profile"] = profile_run(
                server, port, opts, profile_load, outdir, gil=opts.profile_gil
            )
    except BaseException:
        report["server_log_tail"] = server.tail()
        raise
    finally:
        server.stop()
        report["exit_code"] = server.proc.returncode if server.proc else None
        cleanup_broker(opts.broker, prefix)
        if not opts.keep:
            db.drop()
    return report


def combine_rounds(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median req/s, plus every round in brief and the loss over all."""
    good = [r for r in reports if "measured" in r]
    if not good:
        return reports[-1]
    combined = dict(common.lower_median(good, key=lambda r: float(r["measured"]["req_per_s"])))
    combined["rounds"] = [
        {
            k: r["measured"][k]
            for k in (
                "req_per_s",
                "span_s",
                "lost",
                "exact",
                "other_cpu_util",
                "server_cpu_util",
                "infra_cpu_util",
            )
        }
        | {
            "p50_ms": r["measured"]["latency_ms"]["p50"],
            "p99_ms": r["measured"]["latency_ms"]["p99"],
        }
        for r in good
    ]
    combined["lost_all_rounds"] = sum(int(r["measured"]["lost"]) for r in good)
    combined["failed_rounds"] = len(reports) - len(good)
    profiled = [r["profile"] for r in reports if "profile" in r]
    if profiled:
        combined["profile"] = profiled[-1]
    return combined


# -- profiling --------------------------------------------------------------------------------


def py_spy() -> Path:
    """py-spy in its own venv under .work (not the project's dependencies)."""
    venv = WORK / "pyspy-venv"
    exe = venv / "bin" / "py-spy"
    if not exe.exists():
        log("installing py-spy into bench/ingest/.work/pyspy-venv")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "py-spy",
            ],
            check=True,
        )
    return exe


def profile_run(
    server: common.ServerProcess,
    port: int,
    opts: Options,
    load: LoadSet,
    outdir: Path,
    *,
    gil: bool,
) -> dict[str, Any]:
    """A further load on the warm server under py-spy (not counted in the numbers)."""
    exe = py_spy()
    assert server.proc is not None
    raw = outdir / "profile.collapsed.txt"
    seconds = max(2, round(opts.duration))
    cmd = [
        str(exe), "record", "--pid", str(server.proc.pid), "--duration", str(seconds),
        "--rate", "200", "--format", "raw", "--output", str(raw), "--nonblocking",
    ]  # fmt: skip
    if gil:
        cmd.append("--gil")
    log(
        f"{server.name}: profiling with py-spy for {seconds} s{' (GIL holder only)' if gil else ''}"
    )
    spy = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    run_wrk(
        port=port,
        load=load,
        threads=opts.threads,
        connections=opts.connections,
        duration=seconds,
        outdir=outdir,
    )
    out, _ = spy.communicate(timeout=seconds + 60)
    if spy.returncode != 0 or not raw.exists():
        return {"error": out.decode(errors="replace")[-2000:]}
    return {"collapsed": str(raw), **summarize_profile(raw)}


def _frame_group(frame: str) -> str:
    """A coarse owner for a py-spy frame `func (pkg/module.py:line)`: its top-level package."""
    path = frame.rsplit("(", 1)[-1].rstrip(")").rsplit(":", 1)[0]
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    parts = path.split("/")
    if parts[0] == "service" and len(parts) > 2:
        return "service/" + parts[1]
    return parts[0].removesuffix(".py") if len(parts) == 1 else parts[0]


def _thread_role(frames: list[str]) -> str:
    """Which kind of thread a stack belongs to, from its frames."""
    text = ";".join(frames)
    if "dramatiq/worker.py" in text:
        return "dramatiq worker threads"
    if "anyio/_backends/_asyncio.py" in text and "WorkerThread.run" in text:
        return "request threadpool (anyio)"
    if "Runner.run" in text or "asyncio/" in text or "uvicorn/" in text:
        return "event loop (uvicorn, starlette)"
    return "other"


def summarize_profile(raw: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares by function and by package, from collapsed stacks."""
    self_fn: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    incl_group: Counter[str] = Counter()
    roles: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        n = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        roles[_thread_role(frames)] += n
        self_fn[frames[-1]] += n
        for frame in set(frames):
            incl_fn[frame] += n
        for group in {_frame_group(f) for f in frames}:
            incl_group[group] += n

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(k, round(100 * v / total, 1)) for k, v in counter.most_common(top)]

    return {
        "samples": total,
        "self_pct": share(self_fn) if total else [],
        "inclusive_pct": share(incl_fn) if total else [],
        "by_package_inclusive_pct": share(incl_group) if total else [],
        "by_thread_role_pct": share(roles) if total else [],
    }


# -- the run ----------------------------------------------------------------------------------


def uvicorn_config_kwargs(path: Path) -> dict[str, str] | None:
    """The keywords of the `uvicorn.Config(...)` call in a file, for comparing the two servers.

    Module-level constants (`DEFAULT_GRACEFUL_SHUTDOWN = 10`) are resolved to their values.
    """
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError):
        return None
    constants: dict[str, str] = {}
    for stmt in tree.body:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Constant)
        ):
            constants[stmt.targets[0].id] = ast.unparse(stmt.value)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "Config"
        ):
            found: dict[str, str] = {}
            for kw in node.keywords:
                if kw.arg and kw.arg not in {"host", "port"}:
                    text = ast.unparse(kw.value)
                    found[kw.arg] = constants.get(text, text)
            return found
    return None


def service_available() -> bool:
    exe = VENV_BIN / "zoomhooks"
    if not SERVICE_CLI.exists() or not exe.exists():
        return False
    probe = subprocess.run([str(exe), "serve", "--help"], capture_output=True, timeout=60)
    return probe.returncode == 0


def print_summary(summary: dict[str, Any]) -> None:
    rows = summary["targets"]
    title = (
        f"zoomhooks ingest benchmark — {summary['backend']} + {summary['broker']} broker, "
        f"{summary['events']} events, {summary['connections']} connections, "
        f"{summary['threads']} wrk threads"
    )
    header = (
        f"{'target':<10} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'p99.9':>9} "
        f"{'acked':>7} {'stored':>7} {'lost':>5} {'non2xx':>6} {'span s':>7} {'worked':>7} "
        f"{'cpu':>5} {'cpu ms/req':>10} {'infra ms':>8} {'other':>5}"
    )
    common.print_table_head(title, header)
    for name, rep in rows.items():
        m = rep.get("measured")
        if not m:
            print(f"{name:<10} (failed: {rep.get('error', '?')})")
            continue
        lat = m["latency_ms"]
        done = sum(v for k, v in m["statuses_at_end_of_load"].items() if k in {"done", "ignored"})
        print(
            f"{name:<10} {m['req_per_s']:>9.1f} {lat['p50']:>9.2f} {lat['p99']:>9.2f} "
            f"{lat['p99.9']:>9.2f} {m['acked_distinct']:>7} {m['stored']:>7} {m['lost']:>5} "
            f"{m['non_2xx']:>6} {m['span_s']:>7.2f} {done:>7} "
            f"{m['server_cpu_util'] or 0:>5.2f} {m['server_cpu_ms_per_200'] or 0:>10.3f} "
            f"{m.get('infra_cpu_ms_per_200') or 0:>8.3f} {m['other_cpu_util']:>5.2f}"
        )
    for name, rep in rows.items():
        if len(rep.get("rounds", [])) > 1:
            rates = ", ".join(f"{x['req_per_s']:.0f}" for x in rep["rounds"])
            print(f"{name:<10} req/s by round: {rates} (median shown; lost over all rounds: "
                  f"{rep['lost_all_rounds']})")  # fmt: skip
    if summary.get("ratio") is not None:
        r = summary["ratio"]
        target = (
            " (target >= 0.8)"
            if (summary["backend"], summary["broker"]) == ("postgres", "rabbitmq")
            else ""
        )
        print(
            f"\nratio service/baseline: req/s {r['req_per_s']:.2f}{target}  "
            f"p50 {r['p50']:.2f}x  p99 {r['p99']:.2f}x"
        )
        if len(r.get("per_round_req_per_s", [])) > 1:
            print(f"  req/s ratio by round: {r['per_round_req_per_s']}")
    if summary.get("ratio_minimal") is not None:
        r = summary["ratio_minimal"]
        print(
            f"ratio service/minimal: req/s {r['req_per_s']:.2f} (target >= 1.0)  "
            f"p99 {r['p99']:.2f}x  cpu ms/req {r['cpu_ms_per_req']:.2f}x"
        )
    svc = rows.get("service", {}).get("measured")
    if svc:
        lost = rows["service"].get("lost_all_rounds", svc["lost"])
        verdict = "OK" if lost == 0 else "EVENTS LOST"
        exact = "exact" if svc["exact"] else "lower bound: some requests unanswered or non-2xx"
        print(f"service events lost (200 acked - stored): {lost}  [{verdict}; {exact}]")
    print(
        "'worked' = rows already done/ignored by the in-process workers when the load ended; "
        "req/s counts 200 answers over the span from first request to last answer; "
        "cpu = server process CPU (cores) over that span; infra ms = CPU ms per request of "
        "this run's PostgreSQL backends and of the broker server (RabbitMQ, Redis); other = "
        "cores used by other processes meanwhile (noise; 2 cores in all)."
    )
    for name, rep in rows.items():
        prof = rep.get("profile")
        if not prof or "by_package_inclusive_pct" not in prof:
            continue
        print(f"\n{name} profile ({prof['samples']} samples, {prof['collapsed']}):")
        print("  by package (inclusive %): " + ", ".join(
            f"{k} {v}" for k, v in prof["by_package_inclusive_pct"][:14]))  # fmt: skip
        print("  by thread (%): " + ", ".join(f"{k} {v}" for k, v in prof["by_thread_role_pct"]))
        print("  top self:")
        for frame, pct in prof["self_pct"][:15]:
            print(f"    {pct:5.1f}%  {frame}")
    print(f"\nsummary: {summary['path']}")


def parse_args(argv: list[str] | None) -> Options:
    env = os.environ
    p = argparse.ArgumentParser(
        description="zoomhooks ingest benchmark: the service vs a minimal baseline, under wrk."
    )
    p.add_argument("-n", "--events", type=int, default=int(env.get("BENCH_EVENTS", 20_000)))
    p.add_argument(
        "-d", "--duration", type=float, default=float(env.get("BENCH_DURATION", 20)),
        help="upper bound per measured load, seconds (ends earlier once all events are answered)",
    )  # fmt: skip
    p.add_argument("-c", "--connections", type=int, default=int(env.get("BENCH_CONNECTIONS", 32)))
    p.add_argument("-t", "--threads", type=int, default=int(env.get("BENCH_THREADS", 2)))
    p.add_argument("--warmup-events", type=int, default=int(env.get("BENCH_WARMUP_EVENTS", 2000)))
    p.add_argument(
        "--warmup-duration", type=float, default=float(env.get("BENCH_WARMUP_DURATION", 5))
    )
    p.add_argument(
        "--backend", choices=("sqlite", "postgres"), default=env.get("BENCH_BACKEND", "sqlite")
    )
    p.add_argument("--postgres", dest="backend", action="store_const", const="postgres")
    p.add_argument(
        "--broker", choices=tuple(BROKER_URLS), default=env.get("BENCH_BROKER", "stub"),
        help="stub = embedded (in-process workers); redis/rabbitmq: local servers, no consumers",
    )  # fmt: skip
    p.add_argument(
        "--only", choices=("service", "baseline", "minimal"),
        default=env.get("BENCH_ONLY") or None,
        help="run one target (default: all, the service first; minimal: embedded broker only)",
    )  # fmt: skip
    p.add_argument("--settle", type=float, default=1.0, help="pause before counting rows, s")
    p.add_argument("--profile", action="store_true", help="also profile the service (py-spy)")
    p.add_argument("--profile-baseline", action="store_true", help="profile the baseline too")
    p.add_argument("--profile-gil", action="store_true", help="py-spy --gil (GIL holder only)")
    p.add_argument("--baseline-mode", choices=("thread", "inline"), default="thread")
    p.add_argument("--baseline-sqlite-lock", choices=("python", "sqlite"), default="python")
    p.add_argument(
        "--baseline-worker", choices=("claim-finish", "done", "none"), default="claim-finish"
    )
    p.add_argument(
        "-r", "--repeat", type=int, default=int(env.get("BENCH_REPEAT", 1)),
        help="rounds of service-then-baseline; the median round is reported (default 1)",
    )  # fmt: skip
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the databases (SQLite files, PostgreSQL databases) afterwards",
    )
    p.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE",
        help="extra environment for both servers (e.g. ZOOMHOOKS_LOG_LEVEL=WARNING)",
    )  # fmt: skip
    a = p.parse_args(argv)
    if a.events < 1 or a.connections < a.threads or a.threads < 1 or a.repeat < 1:
        p.error("need events >= 1, repeat >= 1 and connections >= threads >= 1")
    targets = [a.only] if a.only else ["service", "baseline"]
    if not a.only and a.broker == "stub":
        targets.append("minimal")
    extra = dict(item.split("=", 1) for item in a.env)
    return Options(
        events=a.events,
        duration=a.duration,
        connections=a.connections,
        threads=a.threads,
        warmup_events=a.warmup_events,
        warmup_duration=a.warmup_duration,
        backend=a.backend,
        broker=a.broker,
        targets=targets,
        settle=a.settle,
        profile_targets={
            t for t, on in (("service", a.profile), ("baseline", a.profile_baseline)) if on
        },
        profile_gil=a.profile_gil,
        baseline_mode=a.baseline_mode,
        baseline_sqlite_lock=a.baseline_sqlite_lock,
        baseline_worker=a.baseline_worker,
        keep=a.keep,
        repeat=a.repeat,
        extra_env=extra,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if shutil.which("wrk") is None:
        log("wrk is not installed (bench/ingest/run installs it)")
        return 2
    if "service" in opts.targets and not service_available():
        log("`zoomhooks serve` is not available yet; use --only baseline")
        return 2
    svc_cfg = uvicorn_config_kwargs(SERVICE_CLI)
    base_cfg = uvicorn_config_kwargs(BASELINE)
    if "service" in opts.targets and svc_cfg != base_cfg:
        log(f"WARNING: uvicorn settings differ: service {svc_cfg} vs baseline {base_cfg}")

    stamp, workdir = common.new_run(WORK)
    secret = secrets.token_urlsafe(24)
    base_ts = int(time.time() * 1000) - 10_000_000
    log(f"pre-signing {opts.warmup_events} warm-up + {opts.events} measured deliveries")
    warmup = make_load(workdir, "warmup", opts.warmup_events, opts.threads, secret, base_ts, 7)
    measured = make_load(
        workdir, "measured", opts.events, opts.threads, secret, base_ts + 1_000_000, 11
    )
    profile_load = None
    if opts.profile_targets:
        profile_load = make_load(
            workdir, "profile", opts.events, opts.threads, secret, base_ts + 2_000_000, 13
        )

    summary: dict[str, Any] = {
        "stamp": stamp,
        "events": opts.events,
        "warmup_events": opts.warmup_events,
        "duration_cap_s": opts.duration,
        "connections": opts.connections,
        "threads": opts.threads,
        "backend": opts.backend,
        "broker": opts.broker,
        "load": {k: measured.meta[k] for k in ("mean_body_bytes", "mix")},
        "uvicorn": {"service": svc_cfg, "baseline": base_cfg},
        "baseline": {
            "mode": opts.baseline_mode,
            "sqlite_lock": opts.baseline_sqlite_lock,
            "worker": opts.baseline_worker,
        },
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "service_code": common.service_fingerprint() if "service" in opts.targets else None,
        "workdir": str(workdir),
        "targets": {},
    }
    failed = False
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        for round_no in range(opts.repeat):
            if opts.repeat > 1:
                log(f"round {round_no + 1} of {opts.repeat}")
            for target in opts.targets:
                last = round_no == opts.repeat - 1
                try:
                    report = run_target(
                        target,
                        opts,
                        stamp=stamp,
                        workdir=workdir,
                        secret=secret,
                        warmup=warmup,
                        measured=measured,
                        profile_load=(
                            profile_load if last and target in opts.profile_targets else None
                        ),
                        round_no=round_no,
                    )
                except common.BenchError as exc:
                    log(f"{target}: {exc}")
                    report = {"target": target, "error": str(exc)}
                    failed = True
                runs.setdefault(target, []).append(report)
    finally:
        for target, reports in runs.items():
            summary["targets"][target] = combine_rounds(reports)
        svc = summary["targets"].get("service", {}).get("measured")
        base = summary["targets"].get("baseline", {}).get("measured")
        minimal = summary["targets"].get("minimal", {}).get("measured")
        summary["ratio"] = None
        summary["ratio_minimal"] = None
        if svc and minimal and minimal["req_per_s"]:
            summary["ratio_minimal"] = {
                "req_per_s": round(svc["req_per_s"] / minimal["req_per_s"], 3),
                "p99": round(svc["latency_ms"]["p99"] / max(minimal["latency_ms"]["p99"], 1e-3), 3),
                "cpu_ms_per_req": round(
                    (svc["server_cpu_ms_per_200"] or 0)
                    / max(minimal["server_cpu_ms_per_200"] or 0, 1e-3),
                    3,
                ),
            }
        if svc and base and base["req_per_s"]:
            summary["ratio"] = {
                "req_per_s": round(svc["req_per_s"] / base["req_per_s"], 3),
                "p50": round(svc["latency_ms"]["p50"] / max(base["latency_ms"]["p50"], 1e-3), 3),
                "p99": round(svc["latency_ms"]["p99"] / max(base["latency_ms"]["p99"], 1e-3), 3),
            }
            paired = [
                round(sv["measured"]["req_per_s"] / bs["measured"]["req_per_s"], 3)
                for sv, bs in zip(runs.get("service", []), runs.get("baseline", []), strict=False)
                if "measured" in sv and "measured" in bs and bs["measured"]["req_per_s"]
            ]
            summary["ratio"]["per_round_req_per_s"] = paired
        common.write_summary(summary, RESULTS, f"ingest-{stamp}-{opts.backend}-{opts.broker}.json")
        print_summary(summary)
        shutil.rmtree(workdir / "requests", ignore_errors=True)

    if any(r.get("measured", {}).get("lost", 0) > 0 for r in runs.get("service", [])):
        return 1
    if failed:
        return 2
    if any(r.get("measured", {}).get("lost", 0) > 0 for r in runs.get("baseline", [])):
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
