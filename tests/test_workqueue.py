"""The work queue: urgent lane first, bounded, stale packets expire."""

from __future__ import annotations

import time

from dhcpd.workqueue import WorkQueue


def drain(queue: WorkQueue[str]) -> list[str]:
    got = []
    while (item := queue.take()) is not None:
        got.append(item)
    return got


def test_urgent_items_go_first_in_order_then_normal_ones_newest_first() -> None:
    queue: WorkQueue[str] = WorkQueue(capacity=10, max_delay=60)
    queue.put("discover-1", urgent=False)
    queue.put("discover-2", urgent=False)
    queue.put("request-1", urgent=True)
    queue.put("request-2", urgent=True)
    assert drain(queue) == ["request-1", "request-2", "discover-2", "discover-1"]
    assert len(queue) == 0


def test_a_full_queue_evicts_its_oldest_discover_for_any_newcomer() -> None:
    queue: WorkQueue[str] = WorkQueue(capacity=2, max_delay=60)
    assert queue.put("discover-1", urgent=False) is None
    assert queue.put("discover-2", urgent=False) is None
    assert queue.put("discover-3", urgent=False) == "discover-1"  # the oldest made room
    assert queue.put("request-1", urgent=True) == "discover-2"
    assert len(queue) == 2
    assert drain(queue) == ["request-1", "discover-3"]


def test_a_queue_full_of_urgent_items_refuses_newcomers() -> None:
    queue: WorkQueue[str] = WorkQueue(capacity=1, max_delay=60)
    assert queue.put("request-1", urgent=True) is None
    assert queue.put("request-2", urgent=True) == "request-2"
    assert queue.put("discover-1", urgent=False) == "discover-1"
    assert drain(queue) == ["request-1"]


def test_items_that_waited_too_long_expire_unprocessed_and_are_reported() -> None:
    expired: list[str] = []
    queue: WorkQueue[str] = WorkQueue(capacity=5, max_delay=0.01, on_expired=expired.append)
    queue.put("stale-discover", urgent=False)
    queue.put("stale-request", urgent=True)
    time.sleep(0.05)
    queue.put("fresh", urgent=False)
    assert queue.take() == "fresh"  # the stale request was discarded on the way
    assert queue.take() is None  # and so is the stale discover
    assert queue.expired == 2
    assert expired == ["stale-request", "stale-discover"]
