"""The worker's own HTTP port: Prometheus metrics at `/metrics`, liveness at `/livez`, and
readiness at `/readyz` for processes that have a notion of it (the WebSocket listener).

The worker has no web server of its own; this small threaded WSGI server answers the scraper
and the kubelet from threads apart from Dramatiq's, so a busy worker still answers at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

from prometheus_client import CollectorRegistry, make_wsgi_app

#: Where the probe listens unless told (all interfaces: Prometheus and the kubelet are outside).
DEFAULT_HOST = "0.0.0.0"  # noqa: S104


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Probes and scrapes every few seconds would drown the worker's log."""


class ProbeApp:
    def __init__(
        self,
        registry: CollectorRegistry,
        problems: Callable[[], list[str]],
        unready: Callable[[], list[str]] | None = None,
    ) -> None:
        self.metrics = make_wsgi_app(registry)
        self.checks = {"/livez": (problems, "live", "wedged")}
        if unready is not None:
            self.checks["/readyz"] = (unready, "ready", "not ready")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        check = self.checks.get(environ.get("PATH_INFO", ""))
        if check is None:
            return self.metrics(environ, start_response)  # type: ignore[no-any-return]
        ask, good, bad = check
        found = ask()
        body = json.dumps(
            {"status": bad, "problems": found} if found else {"status": good}
        ).encode()
        start_response(
            "503 Service Unavailable" if found else "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


class ProbeServer:
    def __init__(
        self,
        port: int,
        *,
        registry: CollectorRegistry,
        problems: Callable[[], list[str]],
        unready: Callable[[], list[str]] | None = None,
        host: str = DEFAULT_HOST,
    ) -> None:
        self._server = make_server(
            host,
            port,
            ProbeApp(registry, problems, unready),
            server_class=_Server,
            handler_class=_QuietHandler,
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="zoomhooks-probe", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
