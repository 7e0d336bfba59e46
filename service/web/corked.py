"""uvicorn's httptools protocol, with the writes of one event-loop iteration sent as one.

uvicorn writes a response's head and its body with one `transport.write` each, so every
answer costs two `send` calls and goes out as two TCP segments (for the peer, two reads).
py-spy put about a fifth of the embedded service's GIL-held samples under those two writes
(bench/ingest). Here the writes made during one iteration of the loop are joined and sent once
at its end: a small JSON answer is one send, one segment. Nothing is reordered, and closing
the connection sends what is pending first.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CorkedTransport:
    """Delegates to `transport`, except that writes wait for the end of the loop iteration."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """For `uvicorn.Config(http=...)`: httptools, one write per response."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Flow control keeps the real transport (pause/resume reading); writes go corked.
        self.transport = cast(asyncio.Transport, CorkedTransport(transport, self.loop))
