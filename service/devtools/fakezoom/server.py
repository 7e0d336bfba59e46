"""Running a `FakeZoom` under uvicorn: in the foreground (`serve`) or in a thread (`running`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import Receive, Scope, Send

from .app import FakeZoom

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: How long `running` waits for the server to listen (seconds).
DEFAULT_STARTUP_TIMEOUT = 10.0
#: How long shutdown waits for in-flight requests, e.g. ones held by a SLOW fault (seconds).
DEFAULT_SHUTDOWN_GRACE = 1


class _Switch:
    """The ASGI app served: forwards to the current fake, so a server can outlive one fake."""

    def __init__(self, fake: FakeZoom) -> None:
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.fake.app(scope, receive, send)


def make_server(
    fake: FakeZoom,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    log_level: str = "warning",
) -> uvicorn.Server:
    config = uvicorn.Config(
        _Switch(fake),
        host=host,
        port=port,
        log_level=log_level,
        access_log=log_level in ("debug", "trace"),
        lifespan="off",
        timeout_graceful_shutdown=DEFAULT_SHUTDOWN_GRACE,
    )
    return uvicorn.Server(config)


def serve(
    fake: FakeZoom, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, log_level: str = "info"
) -> None:
    """Serve `fake` until interrupted (blocks; handles SIGINT/SIGTERM like uvicorn)."""
    make_server(fake, host, port, log_level=log_level).run()


class RunningFake:
    """A fake served from a background thread; its URLs are what a client is configured with."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, host: str, port: int
    ) -> None:
        self.server = server
        self.thread = thread
        self.host = host
        self.port = port

    @property
    def fake(self) -> FakeZoom:
        return self._switch.fake

    def use(self, fake: FakeZoom) -> None:
        """Serve `fake` from now on (e.g. a fresh one per test on a server kept per module)."""
        self._switch.fake = fake

    @property
    def _switch(self) -> _Switch:
        app = self.server.config.app
        assert isinstance(app, _Switch)
        return app

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Stands for `https://api.zoom.us/v2`."""
        return f"{self.base_url}/v2"

    @property
    def ws_url(self) -> str:
        """Stands for `wss://ws.zoom.us/ws`."""
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def oauth_url(self) -> str:
        """Stands for `https://zoom.us/oauth/token`."""
        return f"{self.base_url}/oauth/token"


@contextmanager
def running(
    fake: FakeZoom | None = None,
    host: str = DEFAULT_HOST,
    port: int = 0,
    *,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
) -> Iterator[RunningFake]:
    """Serve `fake` (a new one if None) on `port` (0: any free port) while the block runs."""
    fake = fake if fake is not None else FakeZoom()
    server = make_server(fake, host, port)
    thread = threading.Thread(target=server.run, name="fakezoom", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"fakezoom did not start on {host}:{port}")
        time.sleep(0.005)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningFake(server, thread, host, bound_port)
    finally:
        server.should_exit = True
        thread.join(DEFAULT_STARTUP_TIMEOUT)
