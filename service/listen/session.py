"""One open socket of a subscription: its frames, its heartbeats, and why it ended.

A session reads frames one at a time. An event is committed to the inbox (through `store`)
before the next frame is read, so an event the socket delivered is stored or still in hand,
never skipped. Heartbeats go out every `heartbeat_interval`; an answer that does not come
within `heartbeat_timeout` ends the session as dead (unless the reader is busy committing an
event: the answer then waits unread in the socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from service import metrics
from service.listen import frames
from service.listen.policy import Timing
from service.storage.inbox import NewEvent
from service.storage.types import utcnow
from service.zoom.tokens import StoredToken

log = logging.getLogger(__name__)

#: How long opening a socket (TCP, TLS, upgrade) may take (seconds).
DEFAULT_OPEN_TIMEOUT = 10.0
#: How long a close handshake may take before the connection is dropped (seconds).
DEFAULT_CLOSE_TIMEOUT = 2.0
#: Largest frame accepted (bytes); Zoom's events are a few KiB.
DEFAULT_MAX_FRAME = 1024 * 1024
#: websockets' own logger would show the URL, and with it the access token, at DEBUG.
_quiet = logging.getLogger("zoomhooks.listen.websockets")
_quiet.setLevel(logging.WARNING)

#: Why a session ended: Zoom closed it (or the network failed), no heartbeat answer, the
#: token was refused, Zoom refused the connection, or we closed it (rotation, shutdown).
Ended = Literal["closed", "heartbeat", "token", "refused", "replaced"]
Store = Callable[[NewEvent], Awaitable[None]]


class Refused(Exception):
    """Zoom would not open the socket; `token` says whether a fresh token may help."""

    def __init__(self, reason: str, *, token: bool) -> None:
        super().__init__(reason)
        self.token = token


def url(base: str, subscription_id: str, access_token: str) -> str:
    """The socket's URL. It holds the access token: never log it."""
    return (
        f"{base}?subscriptionId={quote(subscription_id, safe='')}"
        f"&access_token={quote(access_token, safe='')}"
    )


class Session:
    def __init__(
        self,
        ws: ClientConnection,
        *,
        app: str,
        token: StoredToken,
        store: Store,
        timing: Timing,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ws = ws
        self.app = app
        self.token = token
        self.store = store
        self.timing = timing
        self.clock = clock
        self.opened_at = utcnow()
        #: When a frame last proved the socket delivers (an event stored, a heartbeat
        #: answered): where a gap would start if it died now.
        self.alive_at = self.opened_at
        #: Monotonic time of the last frame of any kind, for the last-frame-age gauge.
        self.last_frame = clock()
        self.ended: asyncio.Future[Ended] = asyncio.get_running_loop().create_future()
        self._answered = asyncio.Event()
        self._storing = False
        self._tasks = [
            asyncio.create_task(self._read(), name=f"zoomhooks-listen-read-{app}"),
            asyncio.create_task(self._heartbeat(), name=f"zoomhooks-listen-heartbeat-{app}"),
        ]

    @classmethod
    async def open(
        cls,
        base_url: str,
        subscription_id: str,
        token: StoredToken,
        *,
        app: str,
        store: Store,
        timing: Timing,
    ) -> Session:
        """Open the socket. Raises Refused when Zoom turns it away, OSError or TimeoutError
        when it cannot be reached."""
        try:
            ws = await connect(
                url(base_url, subscription_id, token.access_token),
                open_timeout=DEFAULT_OPEN_TIMEOUT,
                close_timeout=DEFAULT_CLOSE_TIMEOUT,
                # Zoom's own heartbeat module is the liveness check it defines.
                ping_interval=None,
                max_size=DEFAULT_MAX_FRAME,
                logger=_quiet,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise Refused(f"HTTP {status} at the upgrade", token=status in (401, 403)) from None
        return cls(ws, app=app, token=token, store=store, timing=timing)

    def end(self, reason: Ended) -> None:
        if not self.ended.done():
            self.ended.set_result(reason)

    async def close(self, reason: Ended = "replaced") -> None:
        """Close the socket, letting the reader commit what Zoom sent before the close."""
        self.end(reason)
        with contextlib.suppress(ConnectionClosed, OSError):
            await self.ws.close()
        await self.finished()

    async def finished(self) -> None:
        """Wait for the reader to have handled every frame, then stop the heartbeats."""
        await asyncio.gather(self._tasks[0], return_exceptions=True)
        self._tasks[1].cancel()
        await asyncio.gather(self._tasks[1], return_exceptions=True)

    def abort(self) -> None:
        """Drop the connection at once, dropping any frame not yet handled (shutting down
        while the inbox is unreachable: the gap from `alive_at` covers what is dropped)."""
        for task in self._tasks:
            task.cancel()
        self.ws.transport.abort()

    @property
    def frame_age(self) -> float:
        """Seconds since the last frame of any kind."""
        return max(self.clock() - self.last_frame, 0.0)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.last_frame = self.clock()
                await self._handle(raw)
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("listener for app %s: reading its socket failed", self.app)
        self.end("closed")

    async def _handle(self, raw: str | bytes) -> None:
        try:
            frame = frames.parse(raw)
        except frames.FrameError as exc:
            metrics.LISTENER_EVENTS.labels(app=self.app, outcome="rejected").inc()
            log.error("listener for app %s: %s", self.app, exc)
            return
        received = utcnow()
        if isinstance(frame, frames.HeartbeatAnswer):
            self._answered.set()
            self.alive_at = received
        elif isinstance(frame, frames.EventFrame):
            self._storing = True
            try:
                await self.store(frames.new_event(frame.event, app=self.app))
            finally:
                self._storing = False
            self.alive_at = received
        elif isinstance(frame, frames.TokenRejected):
            log.warning("listener for app %s: Zoom refused the token (%s)", self.app, frame.reason)
            self.end("token")
        elif isinstance(frame, frames.Refused):
            log.warning(
                "listener for app %s: Zoom answered %s with a refusal: %s",
                self.app,
                frame.module,
                frame.reason,
            )
            if frame.module == "build_connection":
                self.end("refused")

    async def _heartbeat(self) -> None:
        while not self.ended.done():
            self._answered.clear()
            try:
                await self.ws.send(frames.HEARTBEAT_FRAME)
            except ConnectionClosed:
                return
            sent = self.clock()
            deadline = sent + self.timing.heartbeat_timeout
            while not self._answered.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._answered.wait(), max(deadline - self.clock(), 0.0))
                if self._answered.is_set() or self.ended.done():
                    break
                if self._storing or self.last_frame > sent:
                    # Busy committing, or frames still arriving: the answer may be queued
                    # behind them; give it another timeout.
                    deadline = self.clock() + self.timing.heartbeat_timeout
                    continue
                log.warning(
                    "listener for app %s: no heartbeat answer within %ss; reconnecting",
                    self.app,
                    self.timing.heartbeat_timeout,
                )
                self.end("heartbeat")
                return
            await asyncio.sleep(max(sent + self.timing.heartbeat_interval - self.clock(), 0.0))
