"""The work queue: urgent lane first, bounded, stale packets expire."""

from __future__ import annotations

import time

from dhcpd.workqueue import WorkQueue


def drain(queue: WorkQueue[str]) -> list[str]:
    got = []
    while (item := queue.take()) is not None:
        got.append(item)
    return got


def test_urgent_items_are_served_before_earlier_normal_ones() -> None:
    queue: WorkQueue[str] = WorkQueue(capacity=10, max_delay=60)
    queue.put("discover-1", urgent=False)
    queue.put("discover-2", urgent=False)
    queue.put("request-1", urgent=True)
    assert drain(queue) == ["request-1", "discover-1", "discover-2"]
    assert len(queue) == 0


def test_a_full_queue_refuses_normal_items_and_evicts_for_urgent_ones() -> None:
    queue: WorkQueue[str] = WorkQueue(capacity=2, max_delay=60)
    assert queue.put("discover-1", urgent=False) and queue.put("discover-2", urgent=False)
    assert not queue.put("discover-3", urgent=False)
    assert not queue.put("request-1", urgent=True)  # a loss: discover-1 made room
    assert len(queue) == 2
    assert drain(queue) == ["request-1", "discover-2"]


def test_items_that_waited_too_long_expire_unprocessed_and_are_reported() -> None:
    expired: list[str] = []
    queue: WorkQueue[str] = WorkQueue(capacity=5, max_delay=0.01, on_expired=expired.append)
    queue.put("stale-discover", urgent=False)
    queue.put("stale-request", urgent=True)
    time.sleep(0.05)
    queue.put("fresh", urgent=False)
    assert queue.take() == "fresh"
    assert queue.expired == 2
    assert expired == ["stale-request", "stale-discover"]
