"""The governor's state in Redis, shared by every worker: one hash-free string key per record.

Each update is an optimistic transaction (WATCH, read, MULTI, SET, EXEC) retried when another
worker changed the key in between, so the change function runs on what is really there. At
Zoom's rates (tens of calls per second per account) conflicts are rare and cheap.
"""

from __future__ import annotations

import json
import math
from typing import Any

import redis

from .pace import State
from .store import DEFAULT_STATE_TTL, Change, T

#: Every key starts with this (after the deployment's queue prefix).
KEY_PREFIX = "governor"


class RedisStateStore:
    def __init__(self, client: redis.Redis, *, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    @classmethod
    def from_url(cls, url: str, *, namespace: str) -> RedisStateStore:
        return cls(redis.Redis.from_url(url), namespace=namespace)

    def __repr__(self) -> str:
        return f"<RedisStateStore namespace={self.namespace}>"

    def update(self, key: str, change: Change[T], *, ttl: float = DEFAULT_STATE_TTL) -> T:
        name = f"{self.namespace}:{KEY_PREFIX}:{key}"
        box: list[T] = []

        def attempt(pipe: Any) -> None:
            raw = pipe.get(name)
            record, result = change(_decode(raw))
            pipe.multi()
            pipe.set(name, json.dumps(record), ex=max(1, math.ceil(ttl)))
            box[:] = [result]

        self.client.transaction(attempt, name)
        return box[0]

    def close(self) -> None:
        self.client.close()


def _decode(raw: bytes | str | None) -> State | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float)}
