"""Helpers shared by the tests: fixture data, signing, servers on ephemeral ports."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FakeAccount,
)
from service.webhooks.signature import sign

FIXTURES = Path(__file__).parent / "fixtures" / "zoom"
#: Webhook bodies ship in the package (for `zoomhooks send`); the tests read the same copy.
WEBHOOKS = Path(__file__).parents[1] / "service" / "devtools" / "events"
SECRET = "test-webhook-secret-token"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

#: A second Zoom account the fake can know (`FakeZoom(accounts=[BETA])`) besides its default.
BETA = FakeAccount("beta-account", "beta-client", "beta-client-secret")
#: A ZOOMHOOKS_CONFIG with two apps, one per account, and no environment app. Beta has two
#: secret tokens (rotation) and reads its client secret from $BETA_CLIENT_SECRET.
TWO_APPS = f"""
[apps.alpha]
account_id = "{DEFAULT_ACCOUNT_ID}"
secret_tokens = ["alpha-secret"]
client_id = "{DEFAULT_CLIENT_ID}"
client_secret = "{DEFAULT_CLIENT_SECRET}"

[apps.beta]
account_id = "{BETA.account_id}"
secret_tokens = ["beta-new", "beta-old"]
client_id = "{BETA.client_id}"
client_secret_env = "BETA_CLIENT_SECRET"
"""


def webhook_fixtures() -> list[Path]:
    return sorted(WEBHOOKS.glob("*.json"))


def real_captures() -> list[Path]:
    return sorted((FIXTURES / "real-captures").glob("*.json"))


def compact(path: Path) -> bytes:
    """A pretty-printed doc sample as Zoom would send it: compact JSON, key order kept."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_headers(
    body: bytes, *, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "content-type": "application/json",
        "x-zm-request-timestamp": ts,
        "x-zm-signature": sign(secret.encode(), ts, body),
    }


def event_body(event: str, obj: dict[str, Any], *, event_ts: int, account: str = "acct1") -> bytes:
    data = {"event": event, "payload": {"account_id": account, "object": obj}, "event_ts": event_ts}
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def live_server(app: ASGIApp) -> Iterator[str]:
    """Serve `app` with a real uvicorn on an ephemeral loopback port; yields the base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def ops_server(runtime: Any) -> Iterator[str]:
    """The runtime's ops port (/metrics, /readyz, /livez) on an ephemeral loopback port."""
    probe = runtime.ops_server(0, "127.0.0.1")
    probe.start()
    try:
        yield probe.url
    finally:
        probe.close()


ZOOMHOOKS = Path(sys.executable).with_name("zoomhooks")


@dataclass
class Service:
    """A `zoomhooks serve` process on free loopback ports (`url` the public one, `ops_url`
    the ops one), its output in `log`."""

    process: subprocess.Popen[bytes]
    url: str
    ops_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    def ready(self) -> bool:
        try:
            return httpx.get(self.ops_url + "/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


#: What a spawned zoomhooks process keeps of the test's environment: nothing that configures it.
INHERITED = frozenset({"PATH", "HOME", "LANG", "TMPDIR"})


def process_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Exactly `env` for a spawned process, plus the few variables that run any program."""
    return {**{k: v for k, v in os.environ.items() if k in INHERITED}, **(env or {})}


def start_serve(
    directory: Path, env: dict[str, str], *, name: str = "serve", command: str = "serve"
) -> Service:
    """Start `zoomhooks serve` (or `web`) with exactly `env` (plus PATH and HOME); wait for
    /readyz on its ops port."""
    port, ops_port = free_port(), free_port()
    log = directory / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ZOOMHOOKS), command, "--port", str(port), "--ops-port", str(ops_port)],
            env=process_env(env),
            cwd=directory,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    service = Service(process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ops_port}", log)
    wait_until(lambda: process.poll() is not None or service.ready(), timeout=60, interval=0.1)
    assert process.poll() is None, service.output()
    return service


def followups_done(runtime: Any, count: int) -> bool:
    """Exactly `count` follow-up jobs, all done, from one read of the table."""
    counts = runtime.followups.counts()
    return sum(counts.values()) == count and {status for _, status in counts} == {"done"}


def wait_until(predicate: Any, *, timeout: float = 10.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
