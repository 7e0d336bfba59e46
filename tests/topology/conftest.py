"""The fake Zoom every topology test's worker processes call over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine

from service.devtools.fakezoom import FakeZoom, RunningFake, running


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with running(FakeZoom()) as server:
        yield server


@pytest.fixture
def database(postgres_url: str) -> Iterator[Engine]:
    """The cluster's PostgreSQL database, for reading what it did."""
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()
