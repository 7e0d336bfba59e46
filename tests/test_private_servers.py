"""The private servers of tests.private_servers start, stop for real, and come back with their data.

Each test starts its own throw-away server on a free loopback port; the shared servers on the
standard ports are never touched.
"""

from __future__ import annotations

import socket

import pika
import psycopg
import pytest
import redis
import sqlalchemy
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests import private_servers
from tests.private_servers import (
    HOST,
    SHARED_PORTS,
    Outage,
    PrivateServer,
    private_postgres,
    private_rabbitmq,
    private_redis,
    require_binary,
)
from tests.support import reachable

pytestmark = pytest.mark.slow

QUEUE = "zh.private.durable"


def assert_closed(server: PrivateServer) -> None:
    """After the `with` block: the port refuses, the files are gone, close() is idempotent."""
    assert not reachable(HOST, server.port)
    assert not server.directory.exists()
    server.close()


def amqp(url: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(
        pika.URLParameters(f"{url}?connection_attempts=1&socket_timeout=2")
    )


@pytest.mark.postgres
def test_private_postgres_keeps_committed_data_across_an_outage() -> None:
    with private_postgres() as server:
        assert server.port not in SHARED_PORTS
        engine = sqlalchemy.create_engine(server.url)
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("SELECT current_database()")).scalar() == (
                "zoomhooks"
            )
        engine.dispose()
        survivor = psycopg.connect(server.libpq_url, autocommit=True)
        survivor.execute("CREATE TABLE kept (value text)")
        survivor.execute("INSERT INTO kept VALUES ('before the outage')")

        server.stop()
        assert not reachable(HOST, server.port)
        with pytest.raises(psycopg.OperationalError):
            survivor.execute("SELECT 1")  # the open connection was terminated
        survivor.close()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(server.libpq_url, connect_timeout=2)

        server.start()
        with psycopg.connect(server.libpq_url) as connection:
            rows = connection.execute("SELECT value FROM kept").fetchall()
        assert rows == [("before the outage",)]
    assert_closed(server)


@pytest.mark.redis
@pytest.mark.parametrize("persistent", [False, True])
def test_private_redis_outage(persistent: bool) -> None:
    with private_redis(persistent=persistent) as server:
        assert server.port not in SHARED_PORTS
        client = redis.Redis.from_url(server.url, retry=Retry(NoBackoff(), 0), socket_timeout=2)
        client.set("zh:key", "value")

        server.stop()
        assert not reachable(HOST, server.port)
        with pytest.raises(redis.ConnectionError):
            client.ping()

        server.start()
        assert client.ping()
        assert client.get("zh:key") == (b"value" if persistent else None)
        client.close()
    assert_closed(server)


@pytest.mark.rabbitmq
@pytest.mark.parametrize("outage", ["app", "node"])
def test_private_rabbitmq_keeps_durable_queues_across_an_outage(outage: Outage) -> None:
    with private_rabbitmq(outage=outage) as server:
        assert {server.port, server.dist_port}.isdisjoint(SHARED_PORTS)
        survivor = amqp(server.url)
        channel = survivor.channel()
        channel.confirm_delivery()
        channel.queue_declare(QUEUE, durable=True)
        channel.basic_publish(
            "", QUEUE, b"persistent message", pika.BasicProperties(delivery_mode=2)
        )

        server.stop()
        assert not reachable(HOST, server.port)
        with pytest.raises(pika.exceptions.AMQPConnectionError):
            survivor.process_data_events(time_limit=1)  # the open connection was dropped
        with pytest.raises(pika.exceptions.AMQPConnectionError):
            amqp(server.url)

        server.start()
        connection = amqp(server.url)
        channel = connection.channel()
        declared = channel.queue_declare(QUEUE, passive=True)
        assert declared.method.message_count == 1
        _, _, body = channel.basic_get(QUEUE, auto_ack=True)
        assert body == b"persistent message"
        connection.close()
    assert_closed(server)


def test_require_binary_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    assert require_binary("sh", "/bin/sh").name == "sh"
    monkeypatch.setattr(private_servers, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="no-such-server is not installed"):
        require_binary("no-such-server", "/nonexistent/no-such-server")
    monkeypatch.setattr(private_servers, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_binary("no-such-server", None)


def test_private_ports_lie_outside_the_range_outgoing_connections_take_their_ports_from() -> None:
    # A connection's source port comes from the ephemeral range; while a server is stopped, one
    # that took the server's port (and its minute of TIME_WAIT) would make the restart fail
    # with EADDRINUSE, as RabbitMQ's start_app once did in CI.
    low, high = private_servers._ephemeral_ports()
    with socket.create_server((HOST, 0)) as listener:
        outgoing = socket.create_connection(listener.getsockname())
        assert low <= outgoing.getsockname()[1] <= high
        outgoing.close()
    ports = {private_servers.private_port() for _ in range(200)}
    assert all(not low <= port <= high for port in ports)
    assert all(port >= private_servers.PRIVATE_PORTS_FROM for port in ports)
    assert not ports & SHARED_PORTS
    assert len(ports) > 150  # random, so parallel test workers rarely pick the same one


def test_a_private_port_is_never_one_already_bound() -> None:
    taken = private_servers.private_port()
    with socket.socket() as holder:
        holder.bind((HOST, taken))
        assert not private_servers._bindable(taken)
        assert taken not in {private_servers.private_port() for _ in range(500)}
