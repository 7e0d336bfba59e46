"""The group commit's hand-off: thread futures and asyncio futures, results and failures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from service.storage.groupcommit import GroupCommit


class Store:
    """A write that records its batches; `gate` holds a batch until it is set."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def write(self, items: Sequence[int]) -> list[int]:
        self.gate.wait(10)
        if self.fail:
            raise RuntimeError("disk full")
        self.batches.append(list(items))
        return [item * 10 for item in items]


def test_async_submitters_get_their_own_results_after_the_write() -> None:
    store = Store()
    commits: GroupCommit[int, int] = GroupCommit(store.write)

    async def main() -> list[int]:
        store.gate.clear()  # the first batch waits, so the others gather behind it
        futures = [commits.submit_async(n) for n in range(20)]
        await asyncio.sleep(0.05)
        assert not any(f.done() for f in futures)  # nothing before its commit
        store.gate.set()
        return list(await asyncio.gather(*futures))

    try:
        assert asyncio.run(main()) == [n * 10 for n in range(20)]
    finally:
        commits.close()
    assert sorted(n for batch in store.batches for n in batch) == list(range(20))
    assert len(store.batches) < 20  # shared commits


def test_a_failed_write_fails_every_waiter_of_its_batch() -> None:
    store = Store()
    store.fail = True
    commits: GroupCommit[int, int] = GroupCommit(store.write)

    async def main() -> None:
        with pytest.raises(RuntimeError, match="disk full"):
            await commits.submit_async(1)

    try:
        asyncio.run(main())
        with pytest.raises(RuntimeError, match="disk full"):
            commits.submit(2).result(timeout=10)
    finally:
        commits.close()


def test_a_waiter_that_gave_up_still_has_its_item_written() -> None:
    store = Store()
    commits: GroupCommit[int, int] = GroupCommit(store.write)

    async def main() -> int:
        store.gate.clear()
        gave_up = commits.submit_async(1)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await gave_up
        later = commits.submit_async(2)
        store.gate.set()
        return await later

    try:
        assert asyncio.run(main()) == 20
    finally:
        commits.close()
    assert sorted(n for batch in store.batches for n in batch) == [1, 2]
