"""What the benchmark drivers (`bench/ingest`, `bench/sustained`, `bench/followup`) do alike.

Processes under test (started in their own session, output to a log file, ready when a URL
answers 200, stopped by process group), free loopback ports, the noise of other processes (the
CPU readers themselves are in `bench/procstat.py`), fresh SQLite or PostgreSQL databases, the
service-code fingerprint, run directories, the JSON summary and the head of the printed table.

The drivers run as modules from the repository root (`python -m bench.ingest.driver`, which is
what their `run` scripts do), so `bench` and `service` import without any path set-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

from bench import procstat

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
#: Cores used by other processes during a measured span above which the numbers are flagged.
NOISY_OTHER_CORES = 0.25
#: The caller's variables that must not reach a process under test: the service's settings and
#: any Zoom credentials.
SERVICE_ENV_PREFIXES = ("ZOOM_", "ZOOMHOOKS_", "DATABASE_URL", "BROKER_URL")

T = TypeVar("T")


class BenchError(Exception):
    """A setup or run failure: the numbers would mean nothing."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def scrubbed_environ(*prefixes: str) -> dict[str, str]:
    """This process's environment without SERVICE_ENV_PREFIXES (and `prefixes`) variables."""
    drop = SERVICE_ENV_PREFIXES + prefixes
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


# -- CPU accounting ---------------------------------------------------------------------------


def other_cores(machine_busy: float, *accounted: float, seconds: float) -> float:
    """Cores other processes kept busy over `seconds`: the noise in a measurement.

    `machine_busy` is the CPU time all cores spent busy meanwhile, `accounted` the CPU times of
    the processes the measurement is about (each taken off in turn).
    """
    rest = machine_busy
    for cpu in accounted:
        rest -= cpu
    return max(0.0, rest) / seconds


# -- processes --------------------------------------------------------------------------------


@dataclass
class ServerProcess:
    """A server in its own session (process group), its output in `log_path`.

    `start` returns once `http://127.0.0.1:<ready_port or port><ready_path>` answers 200 (the
    service's /readyz is on its ops port), and raises BenchError
    (after stopping it) if the process exits first or is not ready within `ready_timeout`.
    """

    name: str
    cmd: list[str]
    port: int
    log_path: Path
    cwd: Path
    env: dict[str, str] | None = None
    ready_path: str = "/readyz"
    ready_port: int | None = None
    ready_timeout: float = 90.0
    #: How long one readiness request may take (s).
    probe_timeout: float = 2.0
    #: How long it has to exit after SIGTERM before SIGKILL (s).
    stop_timeout: float = 20.0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as handle:
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.cwd,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.ready_timeout
        url = f"http://127.0.0.1:{self.ready_port or self.port}{self.ready_path}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(url, timeout=self.probe_timeout) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.1)
        raise BenchError(f"{self.name} not ready after {self.ready_timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        return procstat.process_cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# -- databases --------------------------------------------------------------------------------


def _unlink_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@dataclass
class TempDatabase:
    """A fresh database for one run: a SQLite file, or a PostgreSQL database (made and dropped
    through `admin_url`)."""

    kind: str  # sqlite | postgres
    url: str  # as the service takes it
    path: Path | None = None
    name: str | None = None
    admin_url: str = PG_ADMIN_URL

    @classmethod
    def fresh(
        cls,
        kind: str,
        sqlite_dir: Path,
        label: str,
        *,
        admin_url: str = PG_ADMIN_URL,
        name_prefix: str = "zhbench_",
    ) -> Self:
        if kind == "sqlite":
            path = sqlite_dir / f"{label}.sqlite3"
            _unlink_sqlite(path)
            return cls(kind, f"sqlite:///{path}", path=path)
        import psycopg

        name = f"{name_prefix}{label}".lower().replace("-", "_")
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        return cls(kind, f"{base}/{name}", name=name, admin_url=admin_url)

    @property
    def dbapi_url(self) -> str:
        """The PostgreSQL URL as psycopg takes it (no SQLAlchemy driver suffix)."""
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)

    def sqlite_readonly(self) -> sqlite3.Connection:
        assert self.path is not None
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)

    def drop(self) -> None:
        if self.path is not None:
            _unlink_sqlite(self.path)
        if self.kind == "postgres" and self.name:
            import psycopg

            with (
                contextlib.suppress(Exception),
                psycopg.connect(self.admin_url, autocommit=True) as conn,
            ):
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# -- runs and results -------------------------------------------------------------------------


def service_fingerprint() -> dict[str, Any]:
    """Which service code was measured: git HEAD, and a hash of service/ and migrations/."""
    digest = hashlib.sha256()
    files = sorted(
        p for d in ("service", "migrations") for p in (ROOT / d).rglob("*.py") if p.is_file()
    )
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "service", "migrations"],
        capture_output=True,
        text=True,
    )
    return {
        "git_head": head.stdout.strip() or None,
        "uncommitted_changes": bool(dirty.stdout.strip()),
        "tree_sha256": digest.hexdigest()[:16],
        "files": len(files),
    }


def new_run(work: Path) -> tuple[str, Path]:
    """This run's UTC stamp, and its working directory `work/run-<stamp>` (created)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = work / f"run-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    return stamp, workdir


def lower_median(items: Sequence[T], key: Callable[[T], float]) -> T:
    """The item with the median key (the lower middle one for an even count)."""
    ordered = sorted(items, key=key)
    return ordered[(len(ordered) - 1) // 2]


def write_summary(summary: dict[str, Any], results: Path, filename: str) -> Path:
    """The JSON summary into `results/filename` and `results/latest.json`.

    Sets `summary["path"]` to the first, relative to the repository root.
    """
    results.mkdir(parents=True, exist_ok=True)
    path = results / filename
    summary["path"] = str(path.relative_to(ROOT))
    text = json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n"
    path.write_text(text, encoding="utf-8")
    (results / "latest.json").write_text(text, encoding="utf-8")
    return path


def print_table_head(title: str, header: str) -> None:
    """A blank line, the table's title, its column header and a rule as wide."""
    print()
    print(title)
    print(header)
    print("-" * len(header))
