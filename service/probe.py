"""A process's ops port: Prometheus metrics at `/metrics`, and the probes it has a notion of
(`/livez`, `/readyz`), apart from the public webhook port.

`serve` and `web` keep their public port for Zoom (webhooks and `/healthz`); workers and the
WebSocket listener have no web server of their own. A small threaded WSGI server answers the
scraper and the kubelet from threads of its own, so a busy event loop or worker still answers
at once, and nothing here is reachable through the load balancer that fronts the webhooks.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

#: Where the ops port listens unless told (all interfaces: Prometheus and the kubelet are
#: outside the pod; keep the port off the public load balancer).
DEFAULT_HOST = "0.0.0.0"  # noqa: S104
#: The ops port of every role in deploy/ (TCP port).
DEFAULT_PORT = 9100

#: Compression of gzip scrapes: most of the size gone for a fraction of level 9's CPU (1-9).
DEFAULT_GZIP_LEVEL = 5

#: A probe's answer: healthy or not, and the JSON body that says why.
Verdict = tuple[bool, dict[str, object]]
Probe = Callable[[], Verdict]


def liveness(problems: Callable[[], list[str]]) -> Probe:
    """Live unless `problems` names something wedged."""

    def probe() -> Verdict:
        found = problems()
        return (False, {"status": "wedged", "problems": found}) if found else (True, LIVE)

    return probe


def readiness(unready: Callable[[], list[str]]) -> Probe:
    """Ready unless `unready` names something not yet usable."""

    def probe() -> Verdict:
        found = unready()
        return (False, {"status": "not ready", "problems": found}) if found else (True, READY)

    return probe


LIVE: dict[str, object] = {"status": "live"}
READY: dict[str, object] = {"status": "ready"}


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Probes and scrapes every few seconds would drown the process's log."""


class ProbeApp:
    def __init__(self, metrics: Collector, probes: Mapping[str, Probe]) -> None:
        self.metrics = metrics
        self.probes = dict(probes)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _answer(start_response, "405 Method Not Allowed", {"error": "GET only"})
        if path == "/metrics":
            return self._metrics(environ, start_response)
        probe = self.probes.get(path)
        if probe is None:
            known = ", ".join(["/metrics", *sorted(self.probes)])
            return _answer(start_response, "404 Not Found", {"error": f"not found; try {known}"})
        healthy, verdict = probe()
        return _answer(start_response, "200 OK" if healthy else "503 Service Unavailable", verdict)

    def _metrics(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        # Prometheus asks for OpenMetrics and gzip; curl and older scrapers get plain text.
        try:
            encode, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        except (TypeError, ValueError):
            # prometheus_client cannot compare a malformed `version=`: the default text
            # format serves such a scraper, rather than a 500 for its header.
            encode, content_type = choose_encoder("")
        body = encode(self.metrics)
        headers = [("Content-Type", content_type), ("Vary", "Accept, Accept-Encoding")]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = gzip.compress(body, compresslevel=DEFAULT_GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]


def _answer(start_response: StartResponse, status: str, data: dict[str, object]) -> list[bytes]:
    body = json.dumps(data).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


class ProbeServer:
    def __init__(
        self,
        port: int,
        *,
        metrics: Collector,
        probes: Mapping[str, Probe],
        host: str = DEFAULT_HOST,
    ) -> None:
        self._server = make_server(
            host,
            port,
            ProbeApp(metrics, probes),
            server_class=_Server,
            handler_class=_QuietHandler,
        )
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="zoomhooks-ops", daemon=True
        )

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
