"""deploy/image/healthcheck.py, the image's stdlib-only health check, against loopback servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "image" / "healthcheck.py"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def healthcheck(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), *args],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_http_passes_on_2xx_only(server: str) -> None:
    assert healthcheck(f"http://{server}/healthz").returncode == 0
    failed = healthcheck(f"http://{server}/readyz")
    assert failed.returncode == 1
    assert "HTTP 503" in failed.stderr
    assert healthcheck(f"http://127.0.0.1:{closed_port()}/healthz").returncode == 1


def test_tcp_checks_each_url_variable_and_never_prints_it(server: str) -> None:
    up = f"postgresql+psycopg://u:hunter2@{server}/db"
    down = f"amqp://u:hunter2@127.0.0.1:{closed_port()}/%2F"
    assert healthcheck("--tcp", "DATABASE_URL", DATABASE_URL=up).returncode == 0
    failed = healthcheck("--tcp", "DATABASE_URL", "BROKER_URL", DATABASE_URL=up, BROKER_URL=down)
    assert failed.returncode == 1
    assert "BROKER_URL" in failed.stderr
    assert "hunter2" not in failed.stderr + failed.stdout
    assert healthcheck("--tcp", "BROKER_URL").returncode == 1  # unset


def test_usage_errors_exit_2() -> None:
    assert healthcheck().returncode == 2
    assert healthcheck("--tcp").returncode == 2
