"""`zoomhooks listen` as processes: a second listener stays idle while the first holds the
subscription, and takes over once the first is killed; the probe port; clear refusals."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from service.cli import main
from service.devtools.fakezoom import RunningFake
from service.storage import db, migrate
from service.storage.models import webhook_events, websocket_gaps
from service.storage.subscriptions import SubscriptionLeases
from tests.conftest import env_name
from tests.listen.conftest import SUBSCRIPTION, event, listen_settings
from tests.support import ZOOMHOOKS, free_port, process_env, wait_until


@dataclass
class Listening:
    process: subprocess.Popen[bytes]
    probe: str
    log: Path

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.probe + path, timeout=2)

    def answers(self) -> bool:
        try:
            self.get("/livez")
        except httpx.TransportError:
            return False
        return True

    def metric(self, name: str) -> float | None:
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(f'{name}{{app="default"}}'):
                return float(line.split()[-1])
        return None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    started: list[Listening] = []

    def run(env: dict[str, str], name: str) -> Listening:
        port = free_port()
        log = tmp_path / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(ZOOMHOOKS), "listen", "--probe-port", str(port)],
                env=process_env(env),
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        listening = Listening(process, f"http://127.0.0.1:{port}", log)
        started.append(listening)
        wait_until(lambda: process.poll() is not None or listening.answers(), timeout=30)
        assert process.poll() is None, listening.output()
        return listening

    yield run
    for listening in started:
        if listening.process.poll() is None:
            listening.process.kill()
            listening.process.wait(10)


def environment(fake: RunningFake, database_url: str, broker: str, prefix: str) -> dict[str, str]:
    values = listen_settings(fake)
    env = {env_name(key): str(value) for key, value in values.items()}
    return {
        **env,
        "DATABASE_URL": database_url,
        "BROKER_URL": broker,
        "ZOOMHOOKS_QUEUE_PREFIX": prefix,
        "ZOOMHOOKS_LOG_FORMAT": "text",
    }


def stored(database_url: str) -> int:
    engine = db.create(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(webhook_events)).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_second_listener_stays_idle_until_the_first_is_killed(
    start: object,
    fake: RunningFake,
    database_url: str,
    redis_url: str,
    queue_prefix: str,
) -> None:
    engine = db.create(database_url)
    migrate.upgrade(engine)  # with a real broker, `listen` leaves migrating to `migrate`
    env = environment(fake, database_url, redis_url, queue_prefix)
    sockets = fake.fake.sockets
    first = start(env, "first")  # type: ignore[operator]
    wait_until(lambda: first.get("/readyz").status_code == 200, timeout=15)
    assert first.metric("zoomhooks_listener_connected") == 1.0
    second = start(env, "second")  # type: ignore[operator]
    wait_until(lambda: second.get("/readyz").json() == {"status": "ready"}, timeout=15)
    # Standing by is ready: the subscription is held, by the other one.
    assert second.metric("zoomhooks_listener_lease_held") == 0.0
    assert second.metric("zoomhooks_listener_connected") == 0.0
    for n in range(3):
        assert sockets.push(SUBSCRIPTION, event(n))
    wait_until(lambda: stored(database_url) == 3, timeout=10)
    assert sockets.stats(SUBSCRIPTION).connections == 1  # never a competing socket
    holder = SubscriptionLeases(engine).holder(SUBSCRIPTION)
    assert holder is not None and holder.connected_at is not None

    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(10)
    # The lease (3 s) runs out, the second takes over, and reconciles since the kill.
    wait_until(lambda: sockets.stats(SUBSCRIPTION).connections == 2, timeout=15)
    wait_until(lambda: second.metric("zoomhooks_listener_connected") == 1.0, timeout=10)
    assert fake.fake.tokens_issued == 1  # the token store's token, shared
    for n in range(3, 6):
        assert sockets.push(SUBSCRIPTION, event(n))
    wait_until(lambda: stored(database_url) == 6, timeout=10)
    with engine.connect() as conn:
        gaps = conn.execute(select(websocket_gaps.c.gap_from, websocket_gaps.c.gap_to)).all()
    assert len(gaps) == 1 and gaps[0].gap_from < gaps[0].gap_to

    # SIGTERM: it releases the subscription on the way out.
    second.process.send_signal(signal.SIGTERM)
    assert second.process.wait(30) == 0, second.output()
    released = SubscriptionLeases(engine).holder(SUBSCRIPTION)
    assert released is not None and released.owner is None and released.alive_at is not None
    engine.dispose()


def test_listen_without_a_subscription_says_what_to_set(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["listen"], env={"DATABASE_URL": sqlite_url})
    assert result.exit_code != 0
    assert "ZOOM_WEBSOCKET_SUBSCRIPTION_ID" in result.output


def test_a_subscription_without_credentials_stops_the_command_naming_it(sqlite_url: str) -> None:
    env = {"DATABASE_URL": sqlite_url, "ZOOM_WEBSOCKET_SUBSCRIPTION_ID": "sub"}
    result = CliRunner().invoke(main, ["listen"], env=env)
    assert result.exit_code != 0
    assert "ZOOM_WEBSOCKET_SUBSCRIPTION_ID" in result.output
    assert "ZOOM_CLIENT_SECRET" in result.output


def test_serve_listen_needs_a_subscription_too(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["serve", "--listen"], env={"DATABASE_URL": sqlite_url})
    assert result.exit_code != 0
    assert "no app has a WebSocket subscription" in result.output
