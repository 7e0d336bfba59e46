"""Filling the inbox through the real path (signed ingest, then processing), and running
the ops commands on it."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click
from click.testing import CliRunner, Result
from sqlalchemy import RowMapping, select, update

from service.processing.handlers import Context, Outcome
from service.runtime import Runtime
from service.storage.models import followups, webhook_events
from tests.support import event_body, signed_headers

_event_ts = itertools.count(1_709_305_200_000)


def ingest(runtime: Runtime, event: str, obj: Mapping[str, Any] | None = None) -> int:
    """Store one signed delivery (a new one each time); returns its inbox id."""
    body = event_body(event, dict(obj or {}), event_ts=next(_event_ts))
    accepted = runtime.ingestor.ingest(body, signed_headers(body))
    return accepted.inbox_id  # type: ignore[union-attr]


def processed(runtime: Runtime, event: str, obj: Mapping[str, Any] | None = None) -> int:
    inbox_id = ingest(runtime, event, obj)
    runtime.processor.process(inbox_id)
    return inbox_id


@contextmanager
def failing(runtime: Runtime, event: str, message: str = "boom") -> Iterator[None]:
    """While inside, the handler of `event` raises `RuntimeError(message)`."""
    original = runtime.processor.handlers

    def boom(_ctx: Context) -> Outcome:
        raise RuntimeError(message)

    runtime.processor.handlers = {**original, event: boom}
    try:
        yield
    finally:
        runtime.processor.handlers = original


def failed(runtime: Runtime, event: str, obj: Mapping[str, Any] | None = None, **kw: str) -> int:
    """A row whose handler raised on its one attempt: `failed`, with `last_error`."""
    with failing(runtime, event, **kw):
        return processed(runtime, event, obj)


def started(uuid: str) -> dict[str, Any]:
    return {"id": "86431910364", "uuid": uuid, "host_id": "h1", "topic": "Standup", "type": 2}


def ended(uuid: str, webinar_id: int = 81234567890) -> dict[str, Any]:
    return {
        "id": str(webinar_id),
        "uuid": uuid,
        "host_id": "h1",
        "topic": "Tøpic",
        "type": 5,
        "start_time": "2024-03-01T14:00:00Z",
        "end_time": "2024-03-01T15:00:00Z",
        "duration": 60,
    }


def forget_messages(runtime: Runtime) -> None:
    """Drop every message the set-up left on the broker, so that only the command's count."""
    runtime.broker.flush_all()


def next_message(runtime: Runtime, queue_name: str, timeout: float = 5.0) -> Any:
    """Take the next message off a queue of the runtime's broker, as a worker would."""
    consumer = runtime.broker.consume(queue_name, prefetch=1, timeout=100)
    try:
        deadline = time.monotonic() + timeout
        while (message := next(consumer)) is None:
            assert time.monotonic() < deadline, f"no message on {queue_name}"
        consumer.ack(message)
        return message
    finally:
        consumer.close()


def set_event(runtime: Runtime, inbox_id: int, **values: Any) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(update(webhook_events).where(webhook_events.c.id == inbox_id).values(**values))


def set_followup(runtime: Runtime, job_id: int, **values: Any) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(update(followups).where(followups.c.id == job_id).values(**values))


def event_row(runtime: Runtime, inbox_id: int) -> RowMapping:
    with runtime.engine.connect() as conn:
        return (
            conn.execute(select(webhook_events).where(webhook_events.c.id == inbox_id))
            .mappings()
            .one()
        )


def followup_row(runtime: Runtime, job_id: int) -> RowMapping:
    with runtime.engine.connect() as conn:
        return conn.execute(select(followups).where(followups.c.id == job_id)).mappings().one()


def job_ids(runtime: Runtime) -> dict[str, int]:
    """resource → job id (one instance)."""
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(followups.c.resource, followups.c.id)).all()
    return {r.resource: r.id for r in rows}


def statuses(runtime: Runtime) -> dict[int, str]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(webhook_events.c.id, webhook_events.c.status)).all()
    return {r.id: r.status for r in rows}


@dataclass
class Cli:
    """Runs an ops command with CliRunner, in the environment `zoomhooks` would have."""

    env: dict[str, str | None]

    def __call__(
        self,
        command: click.Command,
        *args: str,
        input: str | None = None,
        **env: str | None,
    ) -> Result:
        # No COLUMNS (xdist sets one): piped output is then wide, whatever runs the tests.
        full = {"COLUMNS": None, **self.env, **env}
        return CliRunner().invoke(
            command, list(args), input=input, env=full, catch_exceptions=False
        )

    def json(self, command: click.Command, *args: str, **env: str | None) -> Any:
        """The one JSON object the command prints with --json."""
        result = self(command, *args, "--json", **env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def json_lines(self, command: click.Command, *args: str) -> list[Any]:
        result = self(command, *args, "--json")
        assert result.exit_code in (0, 1), result.output
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def ids(rows: Sequence[Mapping[str, Any]]) -> list[int]:
    return sorted(int(r["id"]) for r in rows)
