"""Container health checks with the standard library only (the slim image has no curl).

    python healthcheck.py URL           exit 0 if GET URL answers 2xx (web: /healthz)
    python healthcheck.py --tcp VAR...  exit 0 if the host:port in each URL-valued environment
                                        variable accepts a TCP connection (worker, sweeper:
                                        DATABASE_URL, BROKER_URL)

It never prints a URL: they carry passwords.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 3.0
DEFAULT_PORTS = {
    "postgresql": 5432,
    "amqp": 5672,
    "amqps": 5671,
    "redis": 6379,
    "rediss": 6379,
    "http": 80,
    "https": 443,
}


def check_http(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        return f"{type(exc).__name__}"
    return None if 200 <= status < 300 else f"HTTP {status}"


def check_tcp(variable: str) -> str | None:
    value = os.environ.get(variable, "").strip()
    if not value:
        return f"{variable} is not set"
    parts = urlsplit(value)
    scheme = parts.scheme.split("+", 1)[0].lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        return f"{variable}: no host and port in it"
    try:
        socket.create_connection((parts.hostname, port), timeout=TIMEOUT_SECONDS).close()
    except OSError as exc:
        return f"{variable}: {parts.hostname}:{port} unreachable ({type(exc).__name__})"
    return None


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "--tcp":
        problems = [p for p in map(check_tcp, argv[1:]) if p]
    elif len(argv) == 1 and not argv[0].startswith("-"):
        problems = [p for p in [check_http(argv[0])] if p]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for problem in problems:
        print(f"unhealthy: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
