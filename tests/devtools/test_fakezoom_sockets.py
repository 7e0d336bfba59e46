"""The fake's WebSocket event subscriptions, over real sockets: frames, heartbeats, token
expiry, one connection per subscription, forced disconnects and missed events."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from service.devtools.fakezoom import FakeZoom, ManualClock, RunningFake
from tests.devtools.conftest import TOKEN_LIFETIME

SUB = "sub-1"
EVENT = {"event": "meeting.started", "payload": {"account_id": "a", "object": {"id": 1}}}
TIMEOUT = 5.0


def url(server: RunningFake, token: str, subscription: str = SUB) -> str:
    return f"{server.ws_url}?subscriptionId={subscription}&access_token={token}"


@pytest.fixture
def socket(server: RunningFake, fake: FakeZoom) -> Iterator[ClientConnection]:
    with connect(url(server, fake.issue_token())) as ws:
        yield ws


def frame(ws: ClientConnection) -> dict[str, object]:
    data = json.loads(ws.recv(timeout=TIMEOUT))
    assert isinstance(data, dict)
    return data


def heartbeat(ws: ClientConnection) -> dict[str, object]:
    ws.send(json.dumps({"module": "heartbeat"}))
    return frame(ws)


def test_heartbeats_are_answered(socket: ClientConnection, fake: FakeZoom) -> None:
    assert heartbeat(socket) == {"module": "heartbeat", "success": True, "content": ""}
    assert fake.sockets.stats(SUB).heartbeats == 1


def test_an_event_goes_out_as_a_message_holding_the_webhook_body(
    socket: ClientConnection, fake: FakeZoom
) -> None:
    assert fake.sockets.push(SUB, EVENT)
    sent = frame(socket)
    assert sent["module"] == "message" and sent["success"] is True
    assert isinstance(sent["content"], str) and json.loads(sent["content"]) == EVENT
    assert fake.sockets.stats(SUB).delivered == 1


def test_an_expired_token_is_refused_at_connect(
    server: RunningFake, fake: FakeZoom, clock: ManualClock
) -> None:
    token = fake.issue_token()
    clock.advance(TOKEN_LIFETIME + 1)
    with connect(url(server, token)) as ws:
        assert frame(ws) == {
            "module": "build_connection",
            "success": False,
            "content": "Invalid Token",
        }
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=TIMEOUT)
    with connect(url(server, "made-up")) as ws:
        assert frame(ws)["content"] == "Invalid Token"
    assert fake.sockets.stats(SUB).refused == 2


def test_once_the_token_expires_heartbeats_say_invalid_token_and_events_are_missed(
    socket: ClientConnection, fake: FakeZoom, clock: ManualClock
) -> None:
    clock.advance(TOKEN_LIFETIME + 1)
    assert heartbeat(socket) == {
        "module": "heartbeat",
        "success": False,
        "content": "Invalid Token",
    }
    # The socket stays open, but nothing reaches it any more.
    assert not fake.sockets.push(SUB, EVENT)
    assert heartbeat(socket)["success"] is False
    stats = fake.sockets.stats(SUB)
    assert (stats.open, stats.token_rejections, stats.missed) == (1, 2, 1)


def test_a_newer_connection_closes_the_older_one(server: RunningFake, fake: FakeZoom) -> None:
    with connect(url(server, fake.issue_token())) as old:
        assert heartbeat(old)["success"] is True
        with connect(url(server, fake.issue_token())) as new:
            with pytest.raises(ConnectionClosed):
                old.recv(timeout=TIMEOUT)
            assert fake.sockets.push(SUB, EVENT)
            assert frame(new)["module"] == "message"
    assert fake.sockets.stats(SUB).connections == 2


def test_a_forced_disconnect_and_muted_heartbeats(
    socket: ClientConnection, server: RunningFake, fake: FakeZoom
) -> None:
    fake.sockets.mute(SUB)
    socket.send(json.dumps({"module": "heartbeat"}))
    with pytest.raises(TimeoutError):
        socket.recv(timeout=0.3)
    assert not fake.sockets.push(SUB, EVENT)  # a dead connection delivers nothing
    fake.sockets.mute(SUB, False)
    assert heartbeat(socket)["success"] is True
    assert fake.sockets.disconnect(SUB) == 1
    with pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert not fake.sockets.push(SUB, EVENT)
    assert fake.sockets.stats(SUB).missed == 2


def test_the_control_api_drives_the_sockets(
    socket: ClientConnection, http: httpx.Client, fake: FakeZoom
) -> None:
    sent = http.post(f"/_fake/ws/{SUB}/events", json=[EVENT, EVENT | {"event_ts": 2}])
    assert sent.json() == {"delivered": 2, "missed": 0}
    assert [frame(socket)["module"] for _ in range(2)] == ["message", "message"]
    assert http.post(f"/_fake/ws/{SUB}/heartbeats", json={"answer": False}).status_code == 204
    assert http.post(f"/_fake/ws/{SUB}/events", json=EVENT).json() == {"delivered": 0, "missed": 1}
    assert http.post(f"/_fake/ws/{SUB}/heartbeats", json={}).status_code == 400
    assert http.post(f"/_fake/ws/{SUB}/events", json=[1]).status_code == 400
    assert http.post(f"/_fake/ws/{SUB}/disconnect").json() == {"closed": 1}
    stats = http.get("/_fake/ws").json()["subscriptions"][SUB]
    assert (stats["connections"], stats["open"], stats["delivered"]) == (1, 0, 2)


def test_an_unknown_module_is_answered_with_a_refusal(socket: ClientConnection) -> None:
    socket.send(json.dumps({"module": "subscribe"}))
    assert frame(socket) == {"module": "subscribe", "success": False, "content": "Unknown module"}
