"""A download's memory does not grow with the file: a few-hundred-MB file through real HTTP
into the file backend, with the peak of Python allocations (tracemalloc) bounded."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from service.devtools.fakezoom import RunningFake
from service.runtime import Runtime
from tests.processing.test_downloads import (
    SIZES,
    VIDEO,
    event,
    jobs,
    make,  # noqa: F401 - fixture
    root,  # noqa: F401 - fixture
    run,
    serve_files,
    stored,
)
from tests.processing.test_live import deliver

#: The file: far more than the bound below, so a buffered download could not pass.
FILE_SIZE = 256 * 1024 * 1024
#: Peak Python allocations allowed during the whole download (bytes): the HTTP client's and
#: the fake server's chunks (both in this process), SQL, logging.
PEAK_BOUND = 16 * 1024 * 1024


@pytest.mark.slow
def test_a_large_file_downloads_in_constant_memory(
    make: Callable[..., Runtime],  # noqa: F811
    fake_zoom: RunningFake,
    root: Path,  # noqa: F811
) -> None:
    runtime = make()
    sizes = {**SIZES, VIDEO: FILE_SIZE}
    serve_files(fake_zoom.fake, sizes)
    deliver(
        runtime, event(fake_zoom, token=fake_zoom.fake.recording_files.mint_token(), sizes=sizes)
    )
    tracemalloc.start()
    try:
        assert run(runtime, VIDEO) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert jobs(runtime)[VIDEO]["verified_size"] == FILE_SIZE
    assert stored(root, VIDEO, "mp4").stat().st_size == FILE_SIZE
    assert peak < PEAK_BOUND, f"peak {peak / 2**20:.1f} MiB"
