"""Follow-up benchmark driver: zoomhooks' participants follow-up against a raw executemany upsert.

For each size (default 10,000 and 100,000 participants): start the fake Zoom in its own process
with one webinar instance of that many participant rows, then per round run both sides, each in
a fresh worker process (`worker.py`) on a fresh database of the chosen kind:

* service: `Runtime` from `Settings`, migrate, a signed `webinar.ended` ingested and processed
  (which creates the follow-up jobs), then `runtime.runner.run(participants job)` timed;
* raw: the same `ZoomClient` fetches the same pages; a hand-written loop shapes the same row
  values and stores each page with one DBAPI `executemany` of `INSERT ... ON CONFLICT DO UPDATE`
  into the same migrated `participants` table, one transaction per page.

After each run: the fake's call counts (`/_fake/stats`), and the stored rows (count, and a
digest of their values, which must be the same for both sides). Prints rows/s of both and their
ratio, the worker's peak RSS at each size and the Zoom calls made against the minimum.

Exit status: 0 fine; 1 the service made more (or fewer) Zoom calls than the minimum; 2 setup or
run failure (a worker failed, rows missing, the two sides stored different values); 4 with
`--strict`, a target missed (ratio < 0.7 or RSS not flat). A JSON summary goes to
bench/followup/results/ (gitignored); logs and profiles to bench/followup/.work/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import pstats
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import common

HERE = Path(__file__).resolve().parent
ROOT = common.ROOT
PYTHON = ROOT / ".venv" / "bin" / "python"
WORKER = HERE / "worker.py"
RESULTS = HERE / "results"
WORK = HERE / ".work"

WEBINAR_ID = 81234567890
#: Zoom's largest page (and the client's): the minimum calls are ceil(rows / PAGE_SIZE).
PAGE_SIZE = 300
PARTICIPANTS_OPERATION = "listWebinarParticipants"
TARGET_RATIO = 0.7
#: How much the worker's peak RSS may grow from the smallest size to the largest (MiB).
DEFAULT_RSS_TOLERANCE_MIB = 5.0
STARTUP_TIMEOUT = 60.0
#: The stored values compared between the two sides (bookkeeping columns left out).
DIGEST_COLUMNS = (
    "instance_uuid, row_key, id, user_id, registrant_id, name, user_email, join_time, "
    "leave_time, duration, status, failover, internal_user"
)
PHASES = ("fetch", "shape", "upsert", "commit", "other")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- the fake Zoom ----------------------------------------------------------------------------


class FakeZoomProcess:
    """`python -m service.devtools.fakezoom` with one webinar of `size` participant rows."""

    def __init__(self, size: int, seed: int, logfile: Path) -> None:
        self.size = size
        self.port = common.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        webinar = f"id={WEBINAR_ID},participants={size},absentees=0,questions=0,polls=0,seed={seed}"
        self.logfile = logfile
        self.server = common.ServerProcess(
            "the fake Zoom",
            [
                str(PYTHON),
                "-m",
                "service.devtools.fakezoom",
                "--port",
                str(self.port),
                "--webinar",
                webinar,
                "--log-level",
                "warning",
            ],
            self.port,
            logfile,
            cwd=ROOT,
            ready_path="/_fake/health",
            ready_timeout=STARTUP_TIMEOUT,
            probe_timeout=10,
            stop_timeout=10,
        )
        self.server.start()
        webinars = self.get("/_fake/world")["webinars"]
        self.uuid: str = webinars[0]["uuid"]

    @property
    def api_url(self) -> str:
        return f"{self.base}/v2"

    @property
    def oauth_url(self) -> str:
        return f"{self.base}/oauth/token"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=10) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        request = urllib.request.Request(self.base + "/_fake/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.get("/_fake/stats")
        return stats

    def cpu_seconds(self) -> float:
        return self.server.cpu_seconds()

    def stop(self) -> None:
        self.server.stop()


# -- databases --------------------------------------------------------------------------------


class Database(common.TempDatabase):
    """A fresh database (`Database.fresh`) with the participants table's migrations and rows."""

    def migrate(self) -> None:
        """The service's migrations (for the baseline, whose worker must not import them)."""
        from service.storage import db, migrate

        engine = db.create(self.url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()

    def stored(self) -> tuple[int, str]:
        """The participants rows: how many, and a SHA-256 of their values in row_key order."""
        query = f"SELECT {DIGEST_COLUMNS} FROM participants ORDER BY row_key"  # noqa: S608
        digest = hashlib.sha256()
        count = 0
        if self.kind == "sqlite":
            conn = self.sqlite_readonly()
            try:
                for row in conn.execute(query):
                    digest.update(repr(tuple(row)).encode())
                    count += 1
            finally:
                conn.close()
        else:
            import psycopg

            with psycopg.connect(self.dbapi_url) as pg, pg.cursor(name="digest") as cursor:
                cursor.itersize = 5000  # a server-side cursor: the driver stays small
                cursor.execute(query)
                for row in cursor:
                    digest.update(repr(tuple(row)).encode())
                    count += 1
        return count, digest.hexdigest()[:16]

    def size_bytes(self) -> int | None:
        if self.path is not None:
            return sum(
                Path(f"{self.path}{s}").stat().st_size
                for s in ("", "-wal")
                if Path(f"{self.path}{s}").exists()
            )
        return None


# -- one run ----------------------------------------------------------------------------------


@dataclass
class Options:
    sizes: list[int]
    backend: str
    rounds: int
    fixed_rounds: bool
    seed: int
    log_level: str
    profile: bool
    strict: bool
    rss_tolerance_mib: float
    timeout: float
    admin_url: str
    keep_work: bool
    cold: bool


def run_worker(
    mode: str,
    opts: Options,
    fake: FakeZoomProcess,
    database: Database,
    logfile: Path,
    profile: Path | None = None,
) -> dict[str, Any]:
    command = [
        str(PYTHON),
        str(WORKER),
        mode,
        "--database",
        database.url,
        "--api",
        fake.api_url,
        "--oauth",
        fake.oauth_url,
        "--uuid",
        fake.uuid,
        "--webinar-id",
        str(WEBINAR_ID),
        "--log-level",
        opts.log_level,
    ]
    if profile is not None:
        command += ["--profile", str(profile)]
    if opts.cold:
        command.append("--cold")
    # No ZOOM_*/DATABASE_URL/ZOOMHOOKS_* from the caller's environment reaches the worker.
    env = common.scrubbed_environ()
    with logfile.open("wb") as stderr:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            timeout=opts.timeout,
            check=False,
        )
    if done.returncode != 0:
        tail = logfile.read_text(errors="replace").strip().splitlines()[-15:]
        raise common.BenchError(
            f"{mode} worker failed ({done.returncode}):\n  " + "\n  ".join(tail)
        )
    lines = done.stdout.decode().strip().splitlines()
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def measure(
    mode: str,
    size: int,
    round_no: int,
    opts: Options,
    fake: FakeZoomProcess,
    sqlite_dir: Path,
    workdir: Path,
    profile: Path | None = None,
) -> dict[str, Any]:
    label = f"{size}_{mode}_r{round_no}{'_profile' if profile else ''}"
    database = Database.fresh(
        opts.backend,
        sqlite_dir,
        f"{workdir.name}_{label}",
        admin_url=opts.admin_url,
        name_prefix="zhbench_followup_",
    )
    try:
        if mode == "raw":
            database.migrate()
        fake.reset()
        fake_cpu = fake.cpu_seconds()
        report = run_worker(mode, opts, fake, database, workdir / f"{label}.log", profile)
        report["fake_cpu_seconds"] = fake.cpu_seconds() - fake_cpu
        # Cores other processes kept busy during the timed part (noise): the machine's busy
        # time less the worker's, the fake's and the PostgreSQL server's.
        report["other_cores"] = common.other_cores(
            report["machine_busy_seconds"],
            report["cpu_seconds"],
            report["fake_cpu_seconds"],
            report["db_server_cpu_seconds"],
            seconds=report["seconds"],
        )
        stats = fake.stats()
        report["zoom_calls"] = stats["calls"]
        report["tokens_issued"] = stats["tokens_issued"]
        report["participant_calls"] = int(stats["calls"].get(PARTICIPANTS_OPERATION, 0))
        report["rows_in_table"], report["rows_digest"] = database.stored()
        report["database_bytes"] = database.size_bytes()
    finally:
        database.drop()
    if report["rows_in_table"] != size or report["rows_stored"] != size:
        raise common.BenchError(
            f"{mode} at {size}: {report['rows_stored']} rows reported, "
            f"{report['rows_in_table']} in the table, {size} expected"
        )
    return report


# -- aggregation ------------------------------------------------------------------------------


def rounds_for(size: int, opts: Options) -> int:
    """`--rounds` at the largest size; smaller (quicker, noisier) sizes get up to 3x as many."""
    if opts.fixed_rounds:
        return opts.rounds
    scaled = round(opts.rounds * opts.sizes[-1] / size / 3)
    return max(opts.rounds, min(3 * opts.rounds, scaled))


def summarize_size(size: int, rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    minimum = math.ceil(size / PAGE_SIZE)
    sides: dict[str, Any] = {}
    for mode in ("service", "raw"):
        reports = [r[mode] for r in rounds]
        mid = common.lower_median(reports, key=lambda r: float(r["seconds"]))  # the median time
        sides[mode] = {
            "rows_per_second": statistics.median(r["rows_per_second"] for r in reports),
            "store_rows_per_second": statistics.median(size / r["store_seconds"] for r in reports),
            "seconds": statistics.median(r["seconds"] for r in reports),
            "cpu_us_per_row": statistics.median(r["cpu_seconds"] / size * 1e6 for r in reports),
            "peak_rss_mib": max(r["peak_rss_kib"] for r in reports) / 1024,
            "peak_rss_mib_before_run": max(r["peak_rss_kib_before"] for r in reports) / 1024,
            "rss_growth_in_run_mib": max(
                (r["peak_rss_kib"] - r["peak_rss_kib_before"]) for r in reports
            )
            / 1024,
            "participant_calls": sorted({r["participant_calls"] for r in reports}),
            "tokens_issued": sorted({r["tokens_issued"] for r in reports}),
            "phases_us_per_row": {
                p: mid["phases"].get(p, 0.0) / size * 1e6 for p in PHASES if p in mid["phases"]
            },
            "rows_per_second_by_round": [round(r["rows_per_second"]) for r in reports],
            "fake_cpu_us_per_row": statistics.median(
                r["fake_cpu_seconds"] / size * 1e6 for r in reports
            ),
            "other_cores_max": max(r["other_cores"] for r in reports),
            "db_server_cpu_us_per_row": statistics.median(
                r["db_server_cpu_seconds"] / size * 1e6 for r in reports
            ),
        }
    ratios = [r["service"]["rows_per_second"] / r["raw"]["rows_per_second"] for r in rounds]
    store_ratios = [r["raw"]["store_seconds"] / r["service"]["store_seconds"] for r in rounds]
    cpu_ratios = [r["raw"]["cpu_seconds"] / r["service"]["cpu_seconds"] for r in rounds]
    digests = {r[m]["rows_digest"] for r in rounds for m in ("service", "raw")}
    service_calls = sides["service"]["participant_calls"]
    return {
        "size": size,
        "rows": size,
        "minimum_calls": minimum,
        "calls_ok": service_calls == [minimum],
        "raw_calls_ok": sides["raw"]["participant_calls"] == [minimum],
        "same_rows": len(digests) == 1,
        "ratio": statistics.median(ratios),
        "ratio_by_round": [round(x, 3) for x in ratios],
        "store_ratio": statistics.median(store_ratios),
        "store_ratio_by_round": [round(x, 3) for x in store_ratios],
        "cpu_ratio": statistics.median(cpu_ratios),
        "service": sides["service"],
        "raw": sides["raw"],
        "rounds": rounds,
    }


def targets(per_size: list[dict[str, Any]], tolerance_mib: float) -> dict[str, Any]:
    smallest, largest = per_size[0], per_size[-1]
    growth = largest["service"]["peak_rss_mib"] - smallest["service"]["peak_rss_mib"]
    return {
        "ratio_min": min(s["ratio"] for s in per_size),
        "ratio_ok": all(s["ratio"] >= TARGET_RATIO for s in per_size),
        "store_ratio_min": min(s["store_ratio"] for s in per_size),
        "store_ratio_ok": all(s["store_ratio"] >= TARGET_RATIO for s in per_size),
        "rss_growth_mib": growth,
        "rss_tolerance_mib": tolerance_mib,
        "rss_flat": growth <= tolerance_mib,
        "calls_ok": all(s["calls_ok"] for s in per_size),
    }


# -- profiling --------------------------------------------------------------------------------


def area_of(filename: str, function: str) -> str:
    """Which part of the work a profiled function belongs to."""
    if filename == "~":  # a built-in or C method: name it by what it is a method of
        if "sqlite3" in function or "psycopg" in function:
            return "database driver (C)"
        if "socket" in function or "ssl" in function:
            return "socket I/O"
        if "_hashlib" in function or "sha256" in function or "hexdigest" in function:
            return "hashing"
        return "builtins"
    path = filename.replace("\\", "/")
    for marker, name in (
        ("/service/processing/shape.py", "service: shape.py"),
        ("/service/storage/", "service: storage/"),
        ("/service/processing/", "service: processing/"),
        ("/service/zoom/", "service: zoom client"),
        ("/bench/followup/", "bench: raw loop"),
        ("/sqlalchemy/", "sqlalchemy"),
        ("/psycopg/", "psycopg (Python)"),
        ("/httpx/", "httpx/httpcore/h11"),
        ("/httpcore/", "httpx/httpcore/h11"),
        ("/h11/", "httpx/httpcore/h11"),
        ("/json/", "json"),
        ("/logging/", "logging"),
    ):
        if marker in path:
            return name
    return "other Python"


def summarize_profile(path: Path, top: int = 22) -> dict[str, Any]:
    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1.0
    areas: dict[str, float] = {}
    functions = []
    for (filename, line, function), (_cc, ncalls, tottime, cumtime, _callers) in raw.items():
        area = area_of(filename, function)
        areas[area] = areas.get(area, 0.0) + tottime
        where = function if filename == "~" else f"{short(filename)}:{line}({function})"
        functions.append((tottime, cumtime, ncalls, where))
    functions.sort(reverse=True)
    ours = sorted(
        (f for f in functions if "/service/" in f[3] or f[3].startswith(("service/", "bench/"))),
        key=lambda f: -f[1],
    )
    return {
        "file": str(path),
        "total_seconds": total,
        "by_area_pct": sorted(
            ((k, round(100 * v / total, 1)) for k, v in areas.items()), key=lambda x: -x[1]
        ),
        "top_self": [
            {"self_s": round(t, 3), "cum_s": round(c, 3), "calls": n, "function": w}
            for t, c, n, w in functions[:top]
        ],
        "top_cumulative_ours": [
            {"self_s": round(t, 3), "cum_s": round(c, 3), "calls": n, "function": w}
            for t, c, n, w in ours[:top]
        ],
    }


def short(filename: str) -> str:
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# -- output -----------------------------------------------------------------------------------


def print_summary(summary: dict[str, Any]) -> None:
    per_size = summary["sizes"]
    title = (
        f"zoomhooks follow-up benchmark — {summary['backend']}, participants of one webinar "
        f"from the fake Zoom (no latency); rounds per size "
        f"{', '.join(str(len(s['rounds'])) for s in per_size)}, medians shown"
    )
    header = (
        f"{'size':>7} {'rows':>7} {'svc rows/s':>10} {'raw rows/s':>10} {'ratio':>6} "
        f"{'store ratio':>11} {'cpu ratio':>9} {'svc RSS MiB':>11} {'raw RSS MiB':>11} "
        f"{'calls/min':>11}"
    )
    common.print_table_head(title, header)
    for s in per_size:
        calls = "/".join(str(c) for c in s["service"]["participant_calls"])
        mark = "ok" if s["calls_ok"] else "!!"
        print(
            f"{s['size']:>7} {s['rows']:>7} {s['service']['rows_per_second']:>10,.0f} "
            f"{s['raw']['rows_per_second']:>10,.0f} {s['ratio']:>6.2f} {s['store_ratio']:>11.2f} "
            f"{s['cpu_ratio']:>9.2f} "
            f"{s['service']['peak_rss_mib']:>11.1f} {s['raw']['peak_rss_mib']:>11.1f} "
            f"{calls + '/' + str(s['minimum_calls']) + ' ' + mark:>11}"
        )
    print(
        "rows/s = rows stored / wall time of the whole job (fetch + shape + store), both sides "
        "fetching the same pages with the same client; store ratio = the same without the time "
        "spent waiting for pages (raw store s / service store s); cpu ratio = raw worker CPU / "
        "service worker CPU (the steadiest on a busy machine). RSS = the worker process's "
        "peak (VmHWM: its own address space's high-water mark), imports included. "
        "calls = listWebinarParticipants requests (minimum ceil(rows/300)); besides, each side "
        "asked for 1 OAuth token and made 1 warm-up pastWebinars call before the timer "
        "(none with --cold)."
    )
    print("\nwhere the time goes, µs per row (median round): ")
    print(
        f"{'size':>7} {'side':<8} "
        + " ".join(f"{p:>7}" for p in PHASES)
        + "   total  cpu  fake cpu  db cpu"
    )
    for s in per_size:
        for mode in ("service", "raw"):
            side = s[mode]
            phases = side["phases_us_per_row"]
            total = sum(phases.values())
            print(
                f"{s['size']:>7} {mode:<8} "
                + " ".join(f"{phases.get(p, 0.0):>7.1f}" for p in PHASES)
                + f" {total:>7.1f} {side['cpu_us_per_row']:>4.0f}"
                + f" {side['fake_cpu_us_per_row']:>9.0f}"
                + f" {side.get('db_server_cpu_us_per_row', 0.0):>7.0f}"
            )
    print(
        "fetch = waiting for the next page (HTTP to the fake, which renders it, JSON parsing); "
        "upsert = building and executing the executemany; commit = COMMIT (on SQLite the WAL "
        "fsync); other = claim, BEGIN and heartbeat per page, done. cpu = worker CPU µs per row, "
        "fake cpu = the fake Zoom's (its own process), db cpu = the PostgreSQL server's."
    )
    for s in per_size:
        if s["rounds"] and len(s["rounds"]) > 1:
            by_round = s["service"]["rows_per_second_by_round"]
            print(
                f"{s['size']:>7}: rows/s by round service {by_round} "
                f"raw {s['raw']['rows_per_second_by_round']}; ratio {s['ratio_by_round']}"
            )
    blind = sorted(
        {
            p
            for s in per_size
            for r in s["rounds"]
            for x in r.values()
            for p in x.get("phases_not_instrumented", [])
        }
    )
    if blind:
        print(
            f"!! no time was recorded for {blind}: the service's code moved away from what "
            "worker.py wraps, that time is counted in `other`"
        )
    noisy = max(s[m]["other_cores_max"] for s in per_size for m in ("service", "raw"))
    if noisy > common.NOISY_OTHER_CORES:
        print(
            f"!! other processes kept up to {noisy:.2f} cores busy during a timed run: the "
            "machine was not quiet, the rates are lower and noisier than they should be"
        )
    t = summary["targets"]
    print()
    print(
        f"target ratio >= {TARGET_RATIO}: {'MET' if t['ratio_ok'] else 'MISSED'} "
        f"(lowest {t['ratio_min']:.2f}; store-only {t['store_ratio_min']:.2f}, "
        f"{'met' if t['store_ratio_ok'] else 'missed'})"
    )
    first, last = per_size[0], per_size[-1]
    print(
        f"target RSS flat from {first['size']} to {last['size']}: "
        f"{'MET' if t['rss_flat'] else 'MISSED'} ({first['service']['peak_rss_mib']:.1f} -> "
        f"{last['service']['peak_rss_mib']:.1f} MiB, {t['rss_growth_mib']:+.1f} MiB; "
        f"tolerance {t['rss_tolerance_mib']:.0f} MiB; growth during the run "
        f"{first['service']['rss_growth_in_run_mib']:.1f} -> "
        f"{last['service']['rss_growth_in_run_mib']:.1f} MiB)"
    )
    print(f"target calls == minimum: {'MET' if t['calls_ok'] else 'MISSED'}")
    if not all(s["same_rows"] for s in per_size):
        print("!! the service and the baseline stored different row values (see the JSON)")
    for mode, prof in (summary.get("profile") or {}).items():
        print(f"\n{mode} profile at {summary['sizes'][-1]['size']} rows ({prof['file']}):")
        print(
            "  self time by area (%): "
            + ", ".join(f"{k} {v}" for k, v in prof["by_area_pct"] if v >= 0.5)
        )
        for title, key in (
            ("top self time", "top_self"),
            ("ours, by cumulative time", "top_cumulative_ours"),
        ):
            print(f"  {title}:")
            for f in prof[key][:16]:
                print(
                    f"    {f['self_s']:>7.3f}s self {f['cum_s']:>7.3f}s cum {f['calls']:>8}  "
                    f"{f['function']}"
                )
    print(f"\nsummary: {summary['path']}")


# -- main -------------------------------------------------------------------------------------


def parse_sizes(values: list[str]) -> list[int]:
    sizes = sorted({int(v) for value in values for v in value.replace(",", " ").split()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def parse_args(argv: list[str] | None) -> Options:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="bench/followup/run", description=__doc__.split("\n")[0] if __doc__ else None
    )
    parser.add_argument(
        "-s",
        "--sizes",
        action="append",
        metavar="N[,N...]",
        help="participant rows of the webinar (default 10000,100000; env BENCH_SIZES)",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        default=env("BENCH_BACKEND") == "postgres",
        help="a fresh PostgreSQL database on 127.0.0.1:5432 per run (default: SQLite)",
    )
    parser.add_argument(
        "-r",
        "--rounds",
        type=int,
        default=int(env("BENCH_ROUNDS", "3")),
        help="rounds of service+raw at the largest size, order alternating; smaller sizes get "
        "up to 3x as many (see --fixed-rounds); medians reported (3)",
    )
    parser.add_argument(
        "--fixed-rounds", action="store_true", help="the same number of rounds at every size"
    )
    parser.add_argument("--seed", type=int, default=7, help="the fake's data seed")
    parser.add_argument(
        "--log-level", default="INFO", help="the service worker's ZOOMHOOKS_LOG_LEVEL (INFO)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="then one more run of each side at the largest size under cProfile (not measured)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 4 if the ratio or RSS target is missed"
    )
    parser.add_argument(
        "--rss-tolerance-mib",
        type=float,
        default=DEFAULT_RSS_TOLERANCE_MIB,
        help="peak RSS growth from the smallest to the largest size still called flat (5)",
    )
    parser.add_argument("--timeout", type=float, default=600, help="per worker run (seconds)")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="no warm-up call before the timer (imports, OAuth token, connection count too)",
    )
    parser.add_argument("--pg-admin-url", default=common.PG_ADMIN_URL)
    parser.add_argument(
        "--keep-work", action="store_true", help="keep the SQLite directory (databases dropped)"
    )
    args = parser.parse_args(argv)
    sizes = parse_sizes(args.sizes or [env("BENCH_SIZES", "10000,100000")])
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    return Options(
        sizes=sizes,
        backend="postgres" if args.postgres else "sqlite",
        rounds=args.rounds,
        fixed_rounds=args.fixed_rounds,
        seed=args.seed,
        log_level=args.log_level.upper(),
        profile=args.profile,
        strict=args.strict,
        rss_tolerance_mib=args.rss_tolerance_mib,
        timeout=args.timeout,
        admin_url=args.pg_admin_url,
        keep_work=args.keep_work,
        cold=args.cold,
    )


def environment(backend: str, admin_url: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
    }
    if backend == "postgres":
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            info["postgres"] = row[0] if row else None
    return info


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    stamp, workdir = common.new_run(WORK)
    sqlite_dir = Path(tempfile.mkdtemp(prefix="zhbench-followup-"))
    if opts.backend == "postgres":
        try:
            environment(opts.backend, opts.admin_url)
        except Exception as exc:
            log(f"PostgreSQL is not reachable at {opts.admin_url}: {exc}")
            return 2
    per_size: list[dict[str, Any]] = []
    profiles: dict[str, Any] = {}
    try:
        for size in opts.sizes:
            log(f"size {size}: starting the fake Zoom")
            fake = FakeZoomProcess(size, opts.seed, workdir / f"fakezoom-{size}.log")
            try:
                rounds: list[dict[str, dict[str, Any]]] = []
                count = rounds_for(size, opts)
                for round_no in range(count):
                    order = ("service", "raw") if round_no % 2 == 0 else ("raw", "service")
                    results: dict[str, dict[str, Any]] = {}
                    for mode in order:
                        results[mode] = measure(
                            mode, size, round_no, opts, fake, sqlite_dir, workdir
                        )
                        r = results[mode]
                        log(
                            f"size {size} round {round_no + 1}/{count} {mode:<7}: "
                            f"{r['rows_per_second']:>8,.0f} rows/s, {r['seconds']:.2f} s, "
                            f"peak RSS {r['peak_rss_kib'] / 1024:.1f} MiB, "
                            f"{r['participant_calls']} participant calls, "
                            f"other processes {r['other_cores']:.2f} cores"
                        )
                    rounds.append(results)
                per_size.append(summarize_size(size, rounds))
                if opts.profile and size == opts.sizes[-1]:
                    for mode in ("service", "raw"):
                        path = workdir / f"profile-{size}-{mode}.prof"
                        log(f"size {size}: profiling {mode} (cProfile, not measured)")
                        measure(mode, size, 0, opts, fake, sqlite_dir, workdir, profile=path)
                        profiles[mode] = summarize_profile(path)
            finally:
                fake.stop()
    except (common.BenchError, subprocess.TimeoutExpired) as exc:
        log(f"failed: {exc}")
        return 2
    finally:
        if not opts.keep_work:
            shutil.rmtree(sqlite_dir, ignore_errors=True)

    summary: dict[str, Any] = {
        "bench": "followup",
        "stamp": stamp,
        "backend": opts.backend,
        "rounds": opts.rounds,
        "fixed_rounds": opts.fixed_rounds,
        "page_size": PAGE_SIZE,
        "environment": environment(opts.backend, opts.admin_url),
        "service_code": common.service_fingerprint(),
        "targets": targets(per_size, opts.rss_tolerance_mib),
        "sizes": per_size,
        "profile": profiles or None,
        "logs": str(workdir),
    }
    common.write_summary(summary, RESULTS, f"followup-{stamp}-{opts.backend}.json")
    print_summary(summary)

    t = summary["targets"]
    if not all(s["same_rows"] for s in per_size):
        return 2
    if not t["calls_ok"]:
        return 1
    if opts.strict and not (t["ratio_ok"] and t["rss_flat"]):
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
