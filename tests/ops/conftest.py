"""Fixtures for the ops commands: a runtime on the test database, and a CLI on the same one."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.runtime import Runtime
from tests.conftest import MakeRuntime
from tests.ops.populate import Cli


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """Each command configures logging onto the runner's (then closed) stderr: undo it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def runtime(make_runtime: MakeRuntime, database_url: str) -> Runtime:
    """One attempt per row, so a raising handler leaves the row `failed` at once."""
    return make_runtime(database_url=database_url, max_attempts=1)


def _cli(database_url: str, queue_prefix: str) -> Cli:
    return Cli(
        {
            "DATABASE_URL": database_url,
            "ZOOMHOOKS_QUEUE_PREFIX": queue_prefix,
            "ZOOMHOOKS_LOG_LEVEL": "WARNING",
            "BROKER_URL": None,
            "ZOOMHOOKS_SWEEP_INTERVAL_SECONDS": None,
        }
    )


@pytest.fixture
def cli(
    database_url: str, queue_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """The commands, run as `zoomhooks` would run them, on the embedded broker."""
    monkeypatch.chdir(tmp_path)  # no stray .env file
    return _cli(database_url, queue_prefix)


@pytest.fixture
def bare_cli(
    sqlite_url: str, queue_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """The commands on an empty SQLite file: for input errors, found before any query."""
    monkeypatch.chdir(tmp_path)
    return _cli(sqlite_url, queue_prefix)
