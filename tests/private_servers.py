"""Private, throw-away PostgreSQL, Redis and RabbitMQ servers for outage tests.

The shared servers (PostgreSQL on 5432, Redis on 6379, RabbitMQ on 5672) serve every test in
parallel and must never be stopped. A test that needs an outage starts its own instance instead,
on a free loopback port outside the ephemeral range (see `private_port`), with its files in a
private temporary directory under /tmp::

    with private_postgres() as server:
        ...                 # server.url accepts connections
        server.stop()       # returns once the port refuses connections
        server.start()      # same port, same data; returns once it accepts connections again

Leaving the block (or `close()`) kills the server's process group and every descendant (also
those that started a session of their own) and deletes its files.
A missing binary skips the test with a reason locally and fails it under CI=true, like
`tests.conftest.require`.

What survives an outage: PostgreSQL keeps everything that was committed; RabbitMQ keeps its
durable queues and persistent messages; Redis comes back empty unless started with
`persistent=True` (append-only file, fsync on every write).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Literal, NoReturn, Self

import pytest

from tests.support import IN_CI, reachable

HOST = "127.0.0.1"
#: Ports of the machine's shared servers (and RabbitMQ's management and distribution ports,
#: and epmd): a private server never listens on one of them.
SHARED_PORTS = frozenset({5432, 6379, 5672, 15672, 25672, 4369})
#: Private servers keep their files here, not under pytest's tmp_path: the `postgres` OS user
#: must be able to traverse every parent directory.
TEMP_ROOT = "/tmp"
POSTGRES_ROOT = Path("/usr/lib/postgresql")
RABBITMQ_SCRIPT_DIRS = (Path("/usr/lib/rabbitmq/bin"),)
#: Private servers' ports are at least this (below the kernel's ephemeral range; see
#: `private_port`).
PRIVATE_PORTS_FROM = 20000
Outage = Literal["app", "node"]


def require_binary(name: str, path: str | os.PathLike[str] | None) -> Path:
    """`path` if it is an executable file; otherwise skip the test, or fail it under CI=true."""
    if path is None or not (os.path.isfile(path) and os.access(path, os.X_OK)):
        _unavailable(f"{name} is not installed ({path or 'not found on PATH'})")
    return Path(path)


def _unavailable(message: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{message} (CI=true: every backend must be tested)")
    pytest.skip(message)


def private_port(*, avoid: frozenset[int] = frozenset()) -> int:
    """A free loopback port outside the kernel's ephemeral range, and none of the shared ports.

    A server that is stopped and started again must find its port free. A port from the
    ephemeral range (what binding port 0 gives) is not: while the server is down, any outgoing
    connection on the machine may take it as its source port, and that connection's TIME_WAIT
    holds it for a minute, so the restart fails with EADDRINUSE.
    """
    low, high = _ephemeral_ports()
    below = range(PRIVATE_PORTS_FROM, low)
    above = range(high + 1, 65536)
    choices = below if len(below) >= len(above) else above
    for _ in range(1000):
        port = secrets.choice(choices)
        if port not in SHARED_PORTS and port not in avoid and _bindable(port):
            return port
    raise RuntimeError(f"no free loopback port in {choices}")


def _ephemeral_ports() -> tuple[int, int]:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        low, high = (int(part) for part in text.split())
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default
    return low, high


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _clean_environ(**extra: str) -> dict[str, str]:
    """The environment minus anything that would point a server at the shared instance."""
    dropped = ("RABBITMQ_", "ERL_", "PG", "REDIS_")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(dropped) and key != "NOTIFY_SOCKET"
    }
    env.setdefault("LANG", "C.UTF-8")
    env.update(extra)
    return env


def _tail(*paths: Path, chars: int = 3000) -> str:
    parts = []
    for path in paths:
        with contextlib.suppress(OSError):
            text = path.read_text(encoding="utf-8", errors="replace")[-chars:]
            parts.append(f"--- {path.name} ---\n{text}")
    return "\n".join(parts) or "(no log)"


class _Process:
    """A server process leading its own process group, its output appended to `log`."""

    def __init__(
        self,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        log: Path,
        user: pwd.struct_passwd | None = None,
    ) -> None:
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=None if user is None else user.pw_uid,
                group=None if user is None else user.pw_gid,
                extra_groups=None if user is None else [],
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> bool:
        """Whether the leader has exited. It is not reaped here: while it is a zombie its pid,
        which is also the group id, cannot be reused, so killing the group stays safe."""
        if self.popen.returncode is not None:
            return True
        try:
            status = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return status is not None

    def wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def terminate(self, sig: signal.Signals, timeout: float) -> None:
        """Send `sig` to the leader and wait up to `timeout` for it to exit; then SIGKILL every
        process left of its group and of its descendants (Erlang's erl_child_setup and port
        programs start sessions of their own), wait until they are dead, and reap the leader."""
        if self.popen.returncode is not None:
            return
        family = _family(self.pid)
        if sig != signal.SIGKILL and not self.exited():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            self.wait_exit(timeout)
        family |= _family(self.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        for process in family:
            if process[0] != self.pid and _alive(process):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(process[0], signal.SIGKILL)
        # SIGKILL is asynchronous: a process holds its sockets until its last thread is gone.
        deadline = time.monotonic() + 10
        while any(_alive(process) for process in family if process[0] != self.pid):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        self.popen.wait(30)


#: A process as (pid, start time in clock ticks since boot): a pid alone may be reused.
_Pid = tuple[int, int]


def _stat(pid: int | str, task: str = "") -> list[str] | None:
    """Fields 3 (state) onwards of /proc/PID[/task/TID]/stat, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}{task}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def _family(leader: int) -> set[_Pid]:
    """The processes of `leader`'s process group, and all their descendants."""
    stats = {
        int(entry.name): stat
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and (stat := _stat(entry.name)) is not None
    }
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        children.setdefault(int(stat[1]), []).append(pid)
    found = {pid for pid, stat in stats.items() if int(stat[2]) == leader} | {leader}
    pending = list(found)
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return {(pid, int(stats[pid][19])) for pid in found if pid in stats}


def _alive(process: _Pid) -> bool:
    """Whether the process still runs: it exists, is not a pid reuse, and some thread of it has
    not exited (a thread-group leader shows as a zombie while its other threads still run)."""
    pid, started = process
    stat = _stat(pid)
    if stat is None or int(stat[19]) != started:
        return False
    try:
        tasks = [entry.name for entry in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return False
    return any(
        (task := _stat(pid, f"/task/{tid}")) is not None and task[0] not in "ZX" for tid in tasks
    )


_LIVE: weakref.WeakSet[PrivateServer] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for server in list(_LIVE):
        server.close()


class PrivateServer(ABC):
    """A throw-away server on `HOST:port`; `url` is what the service's settings take."""

    kind: ClassVar[str]
    #: Signals to the server process for `stop()` and for `close()` (SIGKILL follows if it
    #: does not exit in time).
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    close_signal: ClassVar[signal.Signals] = signal.SIGTERM
    start_timeout: ClassVar[float] = 60.0
    stop_timeout: ClassVar[float] = 30.0

    def __init__(self, *, port: int, url: str, prefix: str) -> None:
        self.host = HOST
        self.port = port
        self.url = url
        self.directory = Path(tempfile.mkdtemp(prefix=prefix, dir=TEMP_ROOT))
        self.log = self.directory / "server.log"
        #: Seconds the last `start()` and `stop()` took.
        self.last_start_seconds = 0.0
        self.last_stop_seconds = 0.0
        self._process: _Process | None = None
        self._running = False
        self._closed = False
        _LIVE.add(self)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url} running={self._running}>"

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Start the server (same port, same data) and return once it accepts connections."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if self._running:
            return
        began = time.monotonic()
        self._running = True  # from here on, close() has something to clean up
        self._launch()
        self._await(self._ready, "accept connections", self.start_timeout)
        self.last_start_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Stop the server; when this returns its port refuses connections."""
        if self._closed or not self._running:
            return
        began = time.monotonic()
        self._halt()
        self._running = False
        self._await(self._refused, "refuse connections", self.stop_timeout)
        self.last_stop_seconds = time.monotonic() - began

    def close(self) -> None:
        """Stop for good (killing every process left) and delete the files. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._running = False
        _LIVE.discard(self)
        try:
            if self._process is not None:
                self._process.terminate(self.close_signal, 10)
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
        deadline = time.monotonic() + 5
        while not self._refused() and time.monotonic() < deadline:
            time.sleep(0.01)

    def logs(self) -> str:
        """The tail of the server's logs, for assertion messages."""
        return _tail(self.log)

    def _spawn(
        self, argv: list[str], *, env: dict[str, str], user: pwd.struct_passwd | None = None
    ) -> None:
        self._process = _Process(argv, env=env, cwd=self.directory, log=self.log, user=user)

    def _halt(self) -> None:
        assert self._process is not None
        self._process.terminate(self.stop_signal, self.stop_timeout)

    def _refused(self) -> bool:
        return not reachable(self.host, self.port, timeout=0.5)

    def _await(self, condition: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self._running and self._process is not None and self._process.exited():
                raise RuntimeError(f"{self.kind} exited instead of starting:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.kind} on port {self.port} did not {what} within {timeout}s:\n"
                    f"{self.logs()}"
                )
            time.sleep(0.02)

    @abstractmethod
    def _launch(self) -> None:
        """Start the server process (or application); `start()` then waits for `_ready`."""

    @abstractmethod
    def _ready(self) -> bool:
        """Whether the server accepts and serves a connection right now."""


# -- PostgreSQL ---------------------------------------------------------------------------------


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in name.split("."))


def postgres_bindir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin, else the directory of `postgres` on PATH."""
    dirs = [path.parent for path in POSTGRES_ROOT.glob("*/bin/postgres")]
    if dirs:
        return max(dirs, key=lambda path: _version_key(path.parent.name))
    found = shutil.which("postgres")
    return Path(found).parent if found else POSTGRES_ROOT / "<version>" / "bin"


class PrivatePostgres(PrivateServer):
    """A PostgreSQL cluster of its own: trust auth, 127.0.0.1 only, fsync off.

    `url` (SQLAlchemy, psycopg driver) and `libpq_url` (for `psycopg.connect`) name the
    database `zoomhooks`; `admin_url` names `postgres`.
    """

    kind = "PostgreSQL"
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back, disconnect, checkpoint
    close_signal = signal.SIGINT  # not SIGKILL: that would leak its System V shared memory
    database = "zoomhooks"

    def __init__(self) -> None:
        bindir = postgres_bindir()
        self.initdb = require_binary("PostgreSQL initdb", bindir / "initdb")
        self.postgres = require_binary("PostgreSQL postgres", bindir / "postgres")
        self.user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                _unavailable("PostgreSQL cannot run as root and there is no 'postgres' user")
        port = private_port()
        super().__init__(
            port=port,
            url=f"postgresql+psycopg://postgres@{HOST}:{port}/{self.database}",
            prefix="zh-pg-",
        )
        self.libpq_url = f"postgresql://postgres@{HOST}:{port}/{self.database}"
        self.admin_url = f"postgresql://postgres@{HOST}:{port}/postgres"
        self.data = self.directory / "data"
        self._created = False
        if self.user is not None:
            try:
                os.chown(self.directory, self.user.pw_uid, self.user.pw_gid)
            except BaseException:
                self.close()
                raise

    def _launch(self) -> None:
        env = _clean_environ(HOME=str(self.directory))
        if not self.data.exists():
            self._initdb(env)
        settings = {
            "listen_addresses": HOST,
            "port": str(self.port),
            "unix_socket_directories": str(self.directory),
            "fsync": "off",
            "full_page_writes": "off",
            "synchronous_commit": "off",
            "logging_collector": "off",
        }
        argv = [str(self.postgres), "-D", str(self.data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        self._spawn(argv, env=env, user=self.user)

    def _initdb(self, env: dict[str, str]) -> None:
        argv = [str(self.initdb), "-D", str(self.data), "-U", "postgres", "--auth=trust"]
        argv += ["--encoding=UTF8", "--locale=C", "--no-sync"]
        initdb = _Process(argv, env=env, cwd=self.directory, log=self.log, user=self.user)
        if not initdb.wait_exit(60):
            initdb.terminate(signal.SIGKILL, 0)
            raise RuntimeError(f"initdb timed out:\n{self.logs()}")
        initdb.terminate(signal.SIGKILL, 0)  # reap it (and anything it left behind)
        if initdb.popen.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{self.logs()}")

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.admin_url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def start(self) -> None:
        super().start()
        if not self._created:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{self.database}"')
            self._created = True


# -- Redis --------------------------------------------------------------------------------------


class PrivateRedis(PrivateServer):
    """A redis-server of its own on 127.0.0.1.

    By default it has no persistence, like a cache: it comes back empty after `stop()`. With
    `persistent=True` it keeps an append-only file (fsync on every write) and comes back with
    its data.
    """

    kind = "Redis"

    def __init__(self, *, persistent: bool = False) -> None:
        self.binary = require_binary("redis-server", shutil.which("redis-server"))
        self.persistent = persistent
        port = private_port()
        super().__init__(port=port, url=f"redis://{HOST}:{port}/0", prefix="zh-redis-")

    def _launch(self) -> None:
        argv = [str(self.binary), "--port", str(self.port), "--bind", HOST]
        argv += ["--daemonize", "no", "--dir", str(self.directory), "--logfile", ""]
        argv += ["--save", ""]
        if self.persistent:
            argv += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            argv += ["--appendonly", "no"]
        self._spawn(argv, env=_clean_environ())

    def _ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False


# -- RabbitMQ -----------------------------------------------------------------------------------


def rabbitmq_scripts() -> Path:
    """The directory of RabbitMQ's own scripts (not Debian's /usr/sbin wrappers, which switch to
    the `rabbitmq` user, its HOME and its Erlang cookie, and write the shared node's logs)."""
    candidates = list(RABBITMQ_SCRIPT_DIRS)
    found = shutil.which("rabbitmq-server")
    if found:
        candidates.append(Path(found).resolve().parent)
    for directory in candidates:
        if (directory / "rabbitmq-env").is_file() and (directory / "rabbitmq-server").is_file():
            return directory
    return candidates[0]


class PrivateRabbitMQ(PrivateServer):
    """A RabbitMQ node of its own: AMQP on 127.0.0.1:port, no plugins, no other listener.

    Its Erlang distribution listens on another free loopback port and registers with the shared
    epmd (4369) under a random node name. Its cookie lives in its own HOME in the temporary
    directory, so neither root's nor the `rabbitmq` user's cookie is read or written.

    `outage="app"` (the default) stops with `rabbitmqctl stop_app`: the AMQP listener closes and
    every connection is dropped, while the Erlang VM keeps running, so `start()` is fast.
    `outage="node"` stops the whole node (SIGTERM) and boots it again on the same Mnesia
    directory. Durable queues and persistent messages survive either.
    """

    kind = "RabbitMQ"
    close_signal = signal.SIGKILL  # its files are deleted anyway; a clean stop takes seconds

    def __init__(self, *, outage: Outage = "app") -> None:
        scripts = rabbitmq_scripts()
        self.server_script = require_binary("rabbitmq-server", scripts / "rabbitmq-server")
        self.ctl_script = require_binary("rabbitmqctl", scripts / "rabbitmqctl")
        self.outage = outage
        self.node = f"zhtest{secrets.token_hex(6)}@localhost"
        port = private_port()
        self.dist_port = private_port(avoid=frozenset({port}))
        super().__init__(
            port=port, url=f"amqp://guest:guest@{HOST}:{port}/%2F", prefix="zh-rabbitmq-"
        )
        try:
            self._write_config()
        except BaseException:
            self.close()
            raise

    def _write_config(self) -> None:
        home = self.directory / "home"
        home.mkdir()
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper(), encoding="ascii")
        cookie.chmod(0o400)
        for name in ("mnesia", "log"):
            (self.directory / name).mkdir()
        (self.directory / "rabbitmq-env.conf").write_text("", encoding="utf-8")
        (self.directory / "enabled_plugins").write_text("[].\n", encoding="utf-8")
        (self.directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = {HOST}:{self.port}\nlisteners.ssl = none\n", encoding="utf-8"
        )
        self.env = _clean_environ(
            HOME=str(home),
            # Not /etc/rabbitmq/rabbitmq-env.conf, which names the shared node.
            RABBITMQ_CONF_ENV_FILE=str(self.directory / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(self.directory / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.directory / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.directory / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(self.directory / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.directory / "log"),
            RABBITMQ_PID_FILE=str(self.directory / "rabbitmq.pid"),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS=HOST,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            ERL_EPMD_ADDRESS=HOST,
        )

    def logs(self) -> str:
        return _tail(self.log, self.directory / "log" / f"{self.node}.log")

    def rabbitmqctl(self, *args: str, timeout: float = 60) -> str:
        """Run `rabbitmqctl -n NODE ARGS...` against this node; its output."""
        result = subprocess.run(
            [str(self.ctl_script), "-q", "-n", self.node, *args],
            env=self.env,
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n{self.logs()}"
            )
        return result.stdout

    def _vm_alive(self) -> bool:
        return self._process is not None and not self._process.exited()

    def _launch(self) -> None:
        if self.outage == "app" and self._vm_alive():
            self.rabbitmqctl("start_app")
            return
        if self._process is not None:  # a node that died: reap what is left of it
            self._process.terminate(signal.SIGKILL, 0)
        self._spawn([str(self.server_script)], env=self.env)

    def _halt(self) -> None:
        if self.outage == "app" and self._vm_alive():
            self.rabbitmqctl("stop_app")
        else:
            super()._halt()

    def _ready(self) -> bool:
        if not reachable(self.host, self.port, timeout=1):
            return False
        import pika

        params = pika.URLParameters(f"{self.url}?connection_attempts=1&socket_timeout=2")
        try:
            connection = pika.BlockingConnection(params)
        except (pika.exceptions.AMQPError, OSError):
            return False
        connection.close()
        return True


# -- context managers ---------------------------------------------------------------------------


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private PostgreSQL with an empty database `zoomhooks`; deleted on exit."""
    with PrivatePostgres() as server:
        yield server


@contextlib.contextmanager
def private_redis(*, persistent: bool = False) -> Iterator[PrivateRedis]:
    """A running private Redis (empty after an outage unless `persistent`); deleted on exit."""
    with PrivateRedis(persistent=persistent) as server:
        yield server


@contextlib.contextmanager
def private_rabbitmq(*, outage: Outage = "app") -> Iterator[PrivateRabbitMQ]:
    """A running private RabbitMQ node (vhost "/", user guest); deleted on exit."""
    with PrivateRabbitMQ(outage=outage) as server:
        yield server
