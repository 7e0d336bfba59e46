"""The Dramatiq broker named by BROKER_URL: none (embedded), RabbitMQ or Redis."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from service.config import Settings

#: A Redis worker silent this long counts as dead, and its unacknowledged messages go back to
#: the queue (milliseconds). Dramatiq's 60 s default, checked on 0.1 % of commands, left the
#: messages a killed worker had prefetched waiting for minutes; a live worker wrongly taken
#: for dead costs only a duplicate message, which the row's lease absorbs.
DEFAULT_REDIS_HEARTBEAT_TIMEOUT = 15_000
#: Commands out of a million that also run Redis's dead-worker check.
DEFAULT_REDIS_MAINTENANCE_CHANCE = 50_000


def create(settings: Settings) -> dramatiq.Broker:
    if settings.broker_url is None:
        return StubBroker()
    url = settings.broker_url.get_secret_value()
    if url.startswith(("amqp://", "amqps://")):
        # Publisher confirms: enqueue returns only once RabbitMQ has taken the message.
        return RabbitmqBroker(url=url, confirm_delivery=True)
    return RedisBroker(  # type: ignore[no-untyped-call]
        url=url,
        namespace=f"{settings.queue_prefix}-dramatiq",
        heartbeat_timeout=DEFAULT_REDIS_HEARTBEAT_TIMEOUT,
        maintenance_chance=DEFAULT_REDIS_MAINTENANCE_CHANCE,
    )


def kind(broker: dramatiq.Broker) -> str:
    if isinstance(broker, RabbitmqBroker):
        return "rabbitmq"
    if isinstance(broker, RedisBroker):
        return "redis"
    return "embedded"


def ping(broker: dramatiq.Broker) -> None:
    """Raise unless the broker answers. The embedded broker always does."""
    if isinstance(broker, RedisBroker):
        broker.client.ping()
    elif isinstance(broker, RabbitmqBroker):
        # The broker keeps one connection per thread; opening it proves RabbitMQ is there.
        try:
            broker.connection.process_data_events(time_limit=0)
        except Exception:
            # Dramatiq drops a thread's broken connection only when a send fails on it; this
            # thread may never send (the group commit's writer does), so drop it here, or the
            # check would fail on the dead connection after RabbitMQ is back.
            del broker.connection
            raise
