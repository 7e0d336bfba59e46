"""The Dramatiq broker named by BROKER_URL: none (embedded), RabbitMQ or Redis."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from service.config import Settings


def create(settings: Settings) -> dramatiq.Broker:
    if settings.broker_url is None:
        return StubBroker()
    url = settings.broker_url.get_secret_value()
    if url.startswith(("amqp://", "amqps://")):
        # Publisher confirms: enqueue returns only once RabbitMQ has taken the message.
        return RabbitmqBroker(url=url, confirm_delivery=True)
    return RedisBroker(url=url, namespace=f"{settings.queue_prefix}-dramatiq")  # type: ignore[no-untyped-call]


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
        broker.connection.process_data_events(time_limit=0)
