"""Fixtures for real servers (PostgreSQL, Redis, RabbitMQ) and for a wired zoomhooks runtime.

A test that needs a server skips with a reason when it is not running, except under CI=true,
where it fails: CI must prove every backend. Each test gets its own database, queue prefix and
Redis namespace, so runs never collide.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices
from xdist.scheduler import LoadFileScheduling

from service.config import Settings
from service.devtools.fakezoom import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FakeZoom,
    RunningFake,
    running,
)
from service.runtime import Runtime
from service.storage import migrate
from tests.support import IN_CI, SECRET, reachable

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672


#: Test files that each start a cluster of processes (web, workers, brokers). They run one after
#: another on one xdist worker: two clusters at once on a 2-core machine delay requests by more
#: than the rate governor's margin, which the budget and scale tests measure at the fake.
SERIAL_SCOPE = "tests/topology/"


class _LoadFileKeepingClustersApart(LoadFileScheduling):  # type: ignore[misc]  # xdist is untyped
    def _split_scope(self, nodeid: str) -> str:
        if nodeid.startswith(SERIAL_SCOPE):
            return SERIAL_SCOPE
        return str(super()._split_scope(nodeid))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    # Not `--dist loadgroup` with `xdist_group` marks: pytest 9.2 broke its grouping
    # (pytest-dev/pytest-xdist#1386), silently.
    if config.getvalue("dist") != "loadfile":
        return None
    return _LoadFileKeepingClustersApart(config, log)


def require(name: str, host: str, port: int) -> None:
    if reachable(host, port):
        return
    message = f"{name} is not running on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: every backend must be tested)")
    pytest.skip(message)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'zoomhooks.sqlite3'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    require("PostgreSQL", PG_HOST, PG_PORT)
    import psycopg

    name = unique("zh")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Every inbox test runs on both databases."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def queue_prefix() -> str:
    return unique("zhq")


@pytest.fixture
def redis_url(queue_prefix: str) -> Iterator[str]:
    require("Redis", REDIS_HOST, REDIS_PORT)
    import redis

    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    yield url
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{queue_prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def amqp_url(queue_prefix: str) -> Iterator[str]:
    require("RabbitMQ", AMQP_HOST, AMQP_PORT)
    import pika

    url = f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/%2F"
    yield url
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for queue in ("webhooks", "followups"):
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(f"{queue_prefix}.{queue}{suffix}")
    connection.close()


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def broker_url(request: pytest.FixtureRequest) -> str | None:
    """Every queue test runs on the embedded StubBroker, RabbitMQ and Redis."""
    if request.param == "embedded":
        return None
    url: str = request.getfixturevalue("amqp_url" if request.param == "rabbitmq" else "redis_url")
    return url


@pytest.fixture(
    params=[
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def real_broker_url(request: pytest.FixtureRequest) -> str:
    """RabbitMQ and Redis: for tests of separate worker processes."""
    url: str = request.getfixturevalue(f"{'amqp' if request.param == 'rabbitmq' else 'redis'}_url")
    return url


MakeSettings = Callable[..., Settings]


def env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    assert isinstance(alias, AliasChoices)
    name = alias.choices[0]
    assert isinstance(name, str)
    return name


@pytest.fixture
def make_settings(sqlite_url: str, queue_prefix: str) -> MakeSettings:
    """Settings from explicit values only: no environment, no .env file."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": sqlite_url,
            "webhook_secret_token": SECRET,
            "queue_prefix": queue_prefix,
            "sweep_interval_seconds": 0.2,
            "worker_threads": 2,
        }
        values.update(overrides)
        # Settings are read by their environment names only (ZOOMHOOKS_*, DATABASE_URL, ...).
        by_alias = {env_name(field): value for field, value in values.items()}
        return Settings(_env_file=None, **by_alias)  # type: ignore[call-arg]

    return make


MakeRuntime = Callable[..., Runtime]


@pytest.fixture
def make_runtime(make_settings: MakeSettings) -> Iterator[MakeRuntime]:
    """Runtimes on migrated databases; closed (workers and sweeper stopped) after the test."""
    made: list[Runtime] = []

    def make(*, migrated: bool = True, **overrides: Any) -> Runtime:
        runtime = Runtime(make_settings(**overrides))
        made.append(runtime)
        if migrated:
            migrate.upgrade(runtime.engine)
        return runtime

    yield make
    for runtime in reversed(made):
        runtime.close()


@pytest.fixture
def fake_zoom() -> Iterator[RunningFake]:
    """A fresh fake Zoom API served over real HTTP on an ephemeral port."""
    with running(FakeZoom()) as server:
        yield server


@pytest.fixture
def zoom_settings(fake_zoom: RunningFake) -> dict[str, Any]:
    """Settings overrides that point the Zoom client at the fake, with no waiting."""
    return {
        "zoom_account_id": DEFAULT_ACCOUNT_ID,
        "zoom_client_id": DEFAULT_CLIENT_ID,
        "zoom_client_secret": DEFAULT_CLIENT_SECRET,
        "zoom_api_base_url": fake_zoom.api_url,
        "zoom_oauth_url": fake_zoom.oauth_url,
        "followup_delay_seconds": 0,
        "not_ready_retry_seconds": 0.05,
    }
