"""The corked transport: one write per loop iteration, in order, flushed before closing."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from service.web.corked import CorkedHttpToolsProtocol, CorkedTransport


class Recording:
    """A stand-in transport that records what reaches it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def corked(transport: Recording, loop: asyncio.AbstractEventLoop) -> CorkedTransport:
    return CorkedTransport(transport, loop)  # type: ignore[arg-type]


def test_writes_of_one_iteration_go_out_as_one_in_order() -> None:
    async def main() -> list[bytes]:
        raw = Recording()
        transport = corked(raw, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"{}")
        assert raw.writes == []  # not yet: at the end of this iteration
        await asyncio.sleep(0)
        transport.write(b"next")
        await asyncio.sleep(0)
        assert transport.get_extra_info("peername") == "info:peername"  # the rest delegates
        return raw.writes

    assert asyncio.run(main()) == [b"HTTP/1.1 200 OK\r\n\r\n{}", b"next"]


def test_closing_sends_what_is_pending_first() -> None:
    async def main() -> Recording:
        raw = Recording()
        transport = corked(raw, asyncio.get_running_loop())
        transport.write(b"last words")
        transport.close()
        await asyncio.sleep(0)  # the scheduled flush finds nothing left to send
        return raw

    raw = asyncio.run(main())
    assert raw.writes == [b"last words"] and raw.closed


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 201, "headers": [(b"x-n", b"1")]})
    await send({"type": "http.response.body", "body": body[:5], "more_body": True})
    await send({"type": "http.response.body", "body": body[5:]})


@pytest.fixture
def server() -> Iterator[str]:
    config = uvicorn.Config(
        echo, host="127.0.0.1", port=0, http=CorkedHttpToolsProtocol, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


def test_uvicorn_serves_keep_alive_and_chunked_answers_through_it(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        for n in range(20):  # one keep-alive connection
            body = f"request {n} " * (n + 1)
            response = client.post("/", content=body)
            assert response.status_code == 201
            assert response.headers["x-n"] == "1"
            assert response.text == body
        with client.stream("POST", "/", content=b"x" * 300_000) as streamed:
            assert streamed.read() == b"x" * 300_000
