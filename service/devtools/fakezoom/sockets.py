"""Zoom's WebSocket event subscriptions, as the fake serves them at `GET /ws` (upgrade).

`/ws?subscriptionId=...&access_token=...` opens a subscription's socket with an access token
of `/oauth/token`. Frames are Zoom's `{"module", "success", "content"}`:

- the client's `{"module": "heartbeat"}` is answered `{"module": "heartbeat", "success":
  true}`; once the socket's token has expired, `"success": false, "content": "Invalid
  Token"` instead, and the socket stays open (as the issue reports Zoom does);
- an event goes out as `{"module": "message", "success": true, "content": "<webhook body as
  a JSON string>"}` to the subscription's open socket, if its token is still valid; otherwise
  it is *missed*, as Zoom drops events nobody is connected for;
- a token that is unknown or expired at connect gets `{"module": "build_connection",
  "success": false, "content": "Invalid Token"}` and a close;
- a newer socket of the same subscription closes the older one: Zoom keeps one connection
  per subscription.

Tests drive it with `push`, `disconnect` and `mute` (thread-safe, from any thread) or through
the control API (`/_fake/ws/...`, see control.py), and read `stats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.websockets import WebSocket, WebSocketDisconnect

from .tokens import AccessTokens, Clock

HEARTBEAT = "heartbeat"
INVALID_TOKEN = "Invalid Token"  # noqa: S105 - Zoom's answer, not a secret
#: Close code when a newer socket of the subscription replaces this one, and when a test
#: forces a disconnect (1001 "going away", as a server restarting would send).
REPLACED_CODE = 1000
DISCONNECT_CODE = 1001
POLICY_CODE = 1008
#: How long a thread-safe call waits for the server's event loop (seconds).
CALL_TIMEOUT = 10.0

T = TypeVar("T")


@dataclass(slots=True)
class Socket:
    """One accepted connection."""

    number: int
    subscription_id: str
    token: str
    websocket: WebSocket
    loop: asyncio.AbstractEventLoop
    opened_at: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False
    heartbeats: int = 0


@dataclass(slots=True)
class SubscriptionStats:
    """What happened on one subscription, for tests to assert on."""

    connections: int = 0
    refused: int = 0
    open: int = 0
    heartbeats: int = 0
    token_rejections: int = 0
    delivered: int = 0
    missed: int = 0
    #: The access token each accepted connection presented, in order.
    tokens: list[str] = field(default_factory=list)


class FakeSockets:
    def __init__(self, tokens: AccessTokens, clock: Clock) -> None:
        self._tokens = tokens
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, Socket] = {}
        self._stats: dict[str, SubscriptionStats] = {}
        self._muted: set[str] = set()
        self._numbers = 0

    # -- for tests ----------------------------------------------------------------------------

    def stats(self, subscription_id: str) -> SubscriptionStats:
        with self._lock:
            found = self._stats.get(subscription_id, SubscriptionStats())
            return SubscriptionStats(
                found.connections,
                found.refused,
                found.open,
                found.heartbeats,
                found.token_rejections,
                found.delivered,
                found.missed,
                list(found.tokens),
            )

    def all_stats(self) -> dict[str, SubscriptionStats]:
        with self._lock:
            names = list(self._stats)
        return {name: self.stats(name) for name in names}

    def mute(self, subscription_id: str, muted: bool = True) -> None:
        """Stop (or resume) answering the subscription's heartbeats: a dead connection whose
        TCP stream stays open. Events are not delivered either while muted."""
        with self._lock:
            if muted:
                self._muted.add(subscription_id)
            else:
                self._muted.discard(subscription_id)

    def push(self, subscription_id: str, body: dict[str, Any] | str) -> bool:
        """Send one event (a webhook body) to the subscription's socket, from any thread.
        True if it went out; False if it was missed (no socket, or its token expired)."""
        socket = self._current(subscription_id)
        if socket is None:
            self._count(subscription_id, missed=1)
            return False
        return self._call(socket.loop, lambda: self.deliver(subscription_id, body))

    def disconnect(self, subscription_id: str, code: int = DISCONNECT_CODE) -> int:
        """Close the subscription's open socket from the server side; how many were open."""
        socket = self._current(subscription_id)
        if socket is None:
            return 0
        return self._call(socket.loop, lambda: self.close(subscription_id, code))

    # -- on the server's event loop -----------------------------------------------------------

    async def deliver(self, subscription_id: str, body: dict[str, Any] | str) -> bool:
        socket = self._current(subscription_id)
        valid = socket is not None and self._tokens.check(socket.token) == "valid"
        if socket is None or not valid or subscription_id in self._muted:
            self._count(subscription_id, missed=1)
            return False
        content = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        sent = await self._send(socket, {"module": "message", "success": True, "content": content})
        self._count(subscription_id, delivered=int(sent), missed=int(not sent))
        return sent

    async def close(self, subscription_id: str, code: int = DISCONNECT_CODE) -> int:
        socket = self._current(subscription_id)
        if socket is None:
            return 0
        await self._close(socket, code, "closed by the fake")
        return 1

    async def endpoint(self, websocket: WebSocket) -> None:
        subscription_id = websocket.query_params.get("subscriptionId", "")
        token = websocket.query_params.get("access_token", "")
        await websocket.accept()
        if not subscription_id or self._tokens.check(token) != "valid":
            self._count(subscription_id, refused=1)
            refusal = {"module": "build_connection", "success": False, "content": INVALID_TOKEN}
            if not subscription_id:
                refusal["content"] = "Missing subscriptionId"
            await websocket.send_text(json.dumps(refusal))
            await websocket.close(POLICY_CODE)
            return
        socket = self._open_socket(subscription_id, token, websocket)
        try:
            await self._serve(socket)
        finally:
            self._forget(socket)

    async def _serve(self, socket: Socket) -> None:
        while True:
            try:
                text = await socket.websocket.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            try:
                module = json.loads(text).get("module")
            except (ValueError, AttributeError):
                module = None
            if module != HEARTBEAT:
                await self._send(
                    socket, {"module": str(module), "success": False, "content": "Unknown module"}
                )
                continue
            self._count(socket.subscription_id, heartbeats=1)
            if socket.subscription_id in self._muted:
                continue
            if self._tokens.check(socket.token) != "valid":
                self._count(socket.subscription_id, token_rejections=1)
                answer = {"module": HEARTBEAT, "success": False, "content": INVALID_TOKEN}
            else:
                answer = {"module": HEARTBEAT, "success": True, "content": ""}
            await self._send(socket, answer)

    def _open_socket(self, subscription_id: str, token: str, websocket: WebSocket) -> Socket:
        with self._lock:
            self._numbers += 1
            socket = Socket(
                self._numbers,
                subscription_id,
                token,
                websocket,
                asyncio.get_running_loop(),
                self._clock(),
            )
            older = self._open.get(subscription_id)
            self._open[subscription_id] = socket
            stats = self._stats.setdefault(subscription_id, SubscriptionStats())
            stats.connections += 1
            stats.open = 1
            stats.tokens.append(token)
        if older is not None:
            # One connection per subscription: the newer one wins.
            asyncio.get_running_loop().create_task(
                self._close(older, REPLACED_CODE, "replaced by a newer connection")
            )
        return socket

    def _forget(self, socket: Socket) -> None:
        socket.closed = True
        with self._lock:
            if self._open.get(socket.subscription_id) is socket:
                del self._open[socket.subscription_id]
                self._stats[socket.subscription_id].open = 0

    async def _send(self, socket: Socket, frame: dict[str, Any]) -> bool:
        async with socket.lock:
            if socket.closed:
                return False
            try:
                await socket.websocket.send_text(json.dumps(frame, separators=(",", ":")))
            except (WebSocketDisconnect, RuntimeError, OSError):
                return False
            return True

    async def _close(self, socket: Socket, code: int, reason: str) -> None:
        self._forget(socket)
        async with socket.lock:
            with contextlib.suppress(RuntimeError, OSError):
                await socket.websocket.close(code, reason)

    def _current(self, subscription_id: str) -> Socket | None:
        with self._lock:
            return self._open.get(subscription_id)

    def _count(self, subscription_id: str, **counts: int) -> None:
        with self._lock:
            stats = self._stats.setdefault(subscription_id, SubscriptionStats())
            for name, value in counts.items():
                setattr(stats, name, getattr(stats, name) + value)

    @staticmethod
    def _call(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await make()

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError("on the server's loop, await deliver()/close() instead")
        return asyncio.run_coroutine_threadsafe(run(), loop).result(CALL_TIMEOUT)
