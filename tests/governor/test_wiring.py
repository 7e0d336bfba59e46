"""Which store the governor shares: Redis when there is one, else the database; memory alone
in the embedded default (one process)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.governor import MemoryStateStore
from service.governor.redis import RedisStateStore
from service.storage.ratestate import DatabaseStateStore
from service.zoom import RateLimitCategory
from tests.conftest import MakeRuntime, MakeSettings


def test_embedded_paces_in_memory(make_runtime: MakeRuntime) -> None:
    assert isinstance(make_runtime().governor.store, MemoryStateStore)


def test_a_redis_broker_shares_its_server(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(broker_url="redis://127.0.0.1:6379/0")
    assert isinstance(runtime.governor.store, RedisStateStore)


def test_rabbitmq_alone_paces_in_the_database(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(broker_url="amqp://guest:guest@127.0.0.1:5672/%2F")
    assert isinstance(runtime.governor.store, DatabaseStateStore)
    runtime = make_runtime(
        broker_url="amqp://guest:guest@127.0.0.1:5672/%2F",
        rate_limit_redis_url="redis://127.0.0.1:6379/0",
    )
    assert isinstance(runtime.governor.store, RedisStateStore)


def test_the_budget_comes_from_the_settings(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(zoom_plan="free", zoom_rate_share=1.0)
    assert runtime.governor.default.rates[RateLimitCategory.MEDIUM] == 2


def test_redis_asked_for_without_a_server_is_refused(make_settings: MakeSettings) -> None:
    with pytest.raises(ValidationError, match="needs ZOOMHOOKS_RATE_LIMIT_REDIS_URL"):
        make_settings(rate_limit_backend="redis")
