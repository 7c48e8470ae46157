"""The work queue: urgent lane first, bounded, stale packets expire."""

from __future__ import annotations

import asyncio

from dhcpd.workqueue import WorkQueue


async def test_urgent_items_are_served_before_earlier_normal_ones() -> None:
    queue: WorkQueue[str] = WorkQueue(capacity=10, max_delay=60)
    queue.put("discover-1", urgent=False)
    queue.put("discover-2", urgent=False)
    queue.put("request-1", urgent=True)
    got = []
    for _ in range(3):
        item = await queue.get()
        assert item is not None
        got.append(item.item)
        queue.done()
    assert got == ["request-1", "discover-1", "discover-2"]
    await asyncio.wait_for(queue.join(), 1)


async def test_a_full_queue_refuses_normal_items_and_evicts_for_urgent_ones() -> None:
    queue: WorkQueue[str] = WorkQueue(capacity=2, max_delay=60)
    assert queue.put("discover-1", urgent=False) and queue.put("discover-2", urgent=False)
    assert not queue.put("discover-3", urgent=False)
    assert not queue.put("request-1", urgent=True)  # a loss: discover-1 made room
    assert len(queue) == 2
    got = []
    for _ in range(2):
        item = await queue.get()
        assert item is not None
        got.append(item.item)
        queue.done()
    assert got == ["request-1", "discover-2"]
    await asyncio.wait_for(queue.join(), 1)


async def test_items_that_waited_too_long_expire_unprocessed() -> None:
    queue: WorkQueue[int] = WorkQueue(capacity=5, max_delay=0.01)
    queue.put(1, urgent=False)
    await asyncio.sleep(0.05)
    assert await queue.get() is None
    assert queue.expired == 1
    await asyncio.wait_for(queue.join(), 1)  # an expired item counts as finished
