"""The fake Zoom every topology test's worker processes call over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.devtools.fakezoom import FakeZoom, RunningFake, running


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with running(FakeZoom()) as server:
        yield server
