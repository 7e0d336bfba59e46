"""The listener over real sockets against the fake Zoom: events stored exactly once across
reconnects, token renewal without a gap, 'Invalid Token' on an open socket, heartbeat loss."""

from __future__ import annotations

import json

import httpx
import pytest

from service import metrics
from service.devtools.fakezoom import RunningFake
from service.runtime import Runtime
from service.storage.gaps import Gaps
from service.storage.models import websocket_gaps
from tests.conftest import MakeRuntime
from tests.listen.conftest import (
    SUBSCRIPTION,
    MakeListening,
    connected,
    count,
    event,
    listen_settings,
    rows,
    state,
)
from tests.support import SECRET, live_server, signed_headers, wait_until


def reconnects(reason: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "zoomhooks_listener_reconnects_total", {"app": "default", "reason": reason}
    )
    return value or 0.0


def gap_rows(runtime: Runtime) -> list[dict[str, object]]:
    with runtime.engine.connect() as conn:
        found = conn.execute(websocket_gaps.select().order_by(websocket_gaps.c.id)).all()
    return [dict(row._mapping) for row in found]


def push(fake: RunningFake, n: int) -> None:
    assert fake.fake.sockets.push(SUBSCRIPTION, event(n)), f"event {n} was missed"


def test_events_are_stored_exactly_once_across_reconnects(
    make_listening: MakeListening, fake: RunningFake, database_url: str
) -> None:
    runtime = make_listening(database_url=database_url)
    wait_until(connected(runtime, fake))
    for n in range(5):
        push(fake, n)
    wait_until(lambda: count(runtime) == 5)
    before = reconnects("closed")
    assert fake.fake.sockets.disconnect(SUBSCRIPTION) == 1
    wait_until(lambda: fake.fake.sockets.stats(SUBSCRIPTION).connections == 2)
    wait_until(connected(runtime, fake))
    assert reconnects("closed") == before + 1
    # Zoom may deliver an event again after a reconnect: still one row, two deliveries.
    for n in (3, 4, 5, 6):
        push(fake, n)
    wait_until(lambda: count(runtime) == 7)
    found = rows(runtime)
    assert len({key for key, _, _ in found}) == 7
    assert [deliveries for _, deliveries, _ in found] == [1, 1, 1, 2, 2, 1, 1]
    assert {transport for _, _, transport in found} == {"websocket"}
    # The reconnect recorded the window nobody listened, to be reconciled.
    (gap,) = gap_rows(runtime)
    assert gap["status"] == "pending" or gap["status"] == "done"
    assert gap["gap_from"] <= gap["gap_to"]  # type: ignore[operator]


def test_an_event_received_both_ways_is_one_row(
    make_listening: MakeListening, fake: RunningFake
) -> None:
    runtime = make_listening()
    wait_until(connected(runtime, fake))
    body = json.dumps(event(1), separators=(",", ":")).encode()
    with live_server(runtime.web_app()) as url:
        answer = httpx.post(f"{url}/webhooks/zoom", content=body, headers=signed_headers(body))
        assert answer.status_code == 200, answer.text
    push(fake, 1)
    wait_until(lambda: rows(runtime)[0][1] == 2)
    ((_, deliveries, transport),) = rows(runtime)
    # The row keeps the transport that delivered it first.
    assert (deliveries, transport) == (2, "webhook")
    assert SECRET  # signed with the environment app's secret


def test_the_socket_moves_to_each_renewed_token_without_a_gap(
    make_listening: MakeListening, fake: RunningFake
) -> None:
    # Tokens live 302 s and the store renews them 300 s before expiry: one rotation a second
    # or two.
    fake.fake.access_tokens.lifetime = 302.0
    runtime = make_listening()
    wait_until(connected(runtime, fake))
    rotations = reconnects("rotation")
    sent = 0
    while fake.fake.sockets.stats(SUBSCRIPTION).connections < 4:
        push(fake, sent)
        sent += 1
        wait_until(lambda n=sent: count(runtime) == n)
    stats = fake.fake.sockets.stats(SUBSCRIPTION)
    assert stats.missed == 0
    assert len(set(stats.tokens)) == stats.connections  # a fresh token each time
    assert reconnects("rotation") >= rotations + 3
    assert gap_rows(runtime) == []  # make before break: nobody missed anything


def test_invalid_token_on_an_open_socket_reconnects_with_a_fresh_token(
    make_listening: MakeListening, fake: RunningFake, database_url: str
) -> None:
    runtime = make_listening(database_url=database_url)
    wait_until(connected(runtime, fake))
    issued = fake.fake.tokens_issued
    before = reconnects("token")
    fake.fake.access_tokens.expire_all()
    wait_until(lambda: fake.fake.sockets.stats(SUBSCRIPTION).token_rejections >= 1)
    wait_until(lambda: fake.fake.sockets.stats(SUBSCRIPTION).connections == 2)
    wait_until(connected(runtime, fake))
    assert fake.fake.tokens_issued == issued + 1
    assert reconnects("token") == before + 1
    push(fake, 1)
    wait_until(lambda: count(runtime) == 1)
    # Events may have been lost while the token was refused: the window is reconciled.
    assert len(gap_rows(runtime)) == 1


def test_a_missing_heartbeat_answer_means_a_dead_connection(
    make_listening: MakeListening, fake: RunningFake
) -> None:
    runtime = make_listening()
    wait_until(connected(runtime, fake))
    before = reconnects("heartbeat")
    fake.fake.sockets.mute(SUBSCRIPTION)
    assert not fake.fake.sockets.push(SUBSCRIPTION, event(1))  # lost at Zoom's end
    wait_until(lambda: reconnects("heartbeat") > before, timeout=5)
    fake.fake.sockets.mute(SUBSCRIPTION, False)
    wait_until(connected(runtime, fake))
    assert fake.fake.sockets.stats(SUBSCRIPTION).connections >= 2
    push(fake, 2)
    wait_until(lambda: count(runtime) == 1)
    (gap,) = gap_rows(runtime)[:1]
    assert gap["gap_to"] > gap["gap_from"]  # type: ignore[operator]


def test_zoom_unreachable_is_retried_with_backoff_until_it_answers(
    make_listening: MakeListening, fake: RunningFake
) -> None:
    before = reconnects("error") + reconnects("refused")
    runtime = make_listening(zoom_websocket_url=fake.ws_url.replace("/ws", "/nowhere"))
    wait_until(lambda: reconnects("error") + reconnects("refused") >= before + 3, timeout=5)
    assert state(runtime) == "connecting"
    assert runtime.listeners is not None
    assert runtime.listeners.unready() == ["app default: connecting"]


@pytest.mark.parametrize("content", ["not json", json.dumps({"event": 1})])
def test_a_bad_frame_is_logged_and_the_next_one_still_stored(
    make_listening: MakeListening,
    fake: RunningFake,
    content: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = make_listening()
    wait_until(connected(runtime, fake))
    assert fake.fake.sockets.push(SUBSCRIPTION, content)
    push(fake, 1)
    wait_until(lambda: count(runtime) == 1)
    assert any("message frame" in r.getMessage() for r in caplog.records)
    assert state(runtime) == "connected"


def test_gaps_start_where_the_socket_was_last_known_alive(
    make_listening: MakeListening, fake: RunningFake
) -> None:
    runtime = make_listening(followup_delay_seconds=3600)
    wait_until(connected(runtime, fake))
    push(fake, 1)
    wait_until(lambda: count(runtime) == 1)
    fake.fake.sockets.disconnect(SUBSCRIPTION)
    wait_until(lambda: len(gap_rows(runtime)) == 1)
    (gap,) = gap_rows(runtime)
    assert gap["status"] == "pending"
    assert gap["app"] == "default" and gap["subscription_id"] == SUBSCRIPTION
    # Due once Zoom's past data is ready, like a follow-up after `ended`.
    assert (gap["due_at"] - gap["gap_to"]).total_seconds() == 3600  # type: ignore[operator]
    assert Gaps(runtime.engine).due([SUBSCRIPTION]) == []


def test_without_its_database_a_listener_opens_no_socket_and_is_not_ready(
    make_runtime: MakeRuntime, fake: RunningFake
) -> None:
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:9/nowhere"
    runtime = make_runtime(migrated=False, **listen_settings(fake, database_url=unreachable))
    listeners = runtime.start_listening()
    wait_until(lambda: listeners.states() == {"default": "unavailable"}, timeout=10)
    assert listeners.unready() == ["app default: unavailable"]
    # Whether another listener holds the subscription is unknown: never a competing socket.
    assert fake.fake.sockets.stats(SUBSCRIPTION).connections == 0
