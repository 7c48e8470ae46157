"""The bounded two-lane queue of packets that wait for a free exchange slot.

Two lanes: packets that finish an exchange (REQUEST, RELEASE, DECLINE, INFORM)
go before those that start one (DISCOVER, BOOTP), and when the queue is full
a new packet takes the place of the oldest waiting DISCOVER. Under overload the
server thus completes the exchanges it began instead of offering to ever more
clients that it then cannot acknowledge; it offers to the newest DISCOVERs
first (their clients are still waiting), and a packet that waited longer than
its client will (max_delay) is dropped unprocessed rather than answered too late.

Plain synchronous code: the scheduler (dhcpd/scheduler.py) takes from it
whenever an exchange slot frees up, so nothing here awaits.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class WorkQueue(Generic[T]):
    def __init__(
        self, capacity: int, max_delay: float, on_expired: Callable[[T], None] | None = None
    ) -> None:
        self.capacity = capacity
        self.max_delay = max_delay
        self.on_expired = on_expired  # told of each item discarded for waiting too long
        # (arrival time on the monotonic clock, item): tuples, the cheapest record
        self._urgent: deque[tuple[float, T]] = deque()
        self._normal: deque[tuple[float, T]] = deque()
        self.expired = 0  # items dropped for waiting too long

    def __len__(self) -> int:
        return len(self._urgent) + len(self._normal)

    def put(self, item: T, urgent: bool) -> T | None:
        """Queue `item`; return the packet lost for want of room, if any.

        When full, the oldest waiting normal item makes room (and is returned);
        with only urgent items waiting, the new item is refused (and returned).
        """
        now = time.monotonic()
        if len(self._urgent) + len(self._normal) >= self.capacity:
            if not self._normal:
                return item
            _at, evicted = self._normal.popleft()
            (self._urgent if urgent else self._normal).append((now, item))
            return evicted
        (self._urgent if urgent else self._normal).append((now, item))
        return None

    def take(self) -> T | None:
        """The next item that is still fresh: urgent ones first, oldest first; then
        normal ones newest first; None when empty.

        Normal items (DISCOVERs) are served last in, first out: under overload
        the newest DISCOVER is the one whose client is still waiting, while the
        oldest may have given up or sent another; the oldest are the ones
        evicted when the queue is full, or expire.

        Items that waited longer than max_delay are discarded on the way,
        counted in `expired` and passed to `on_expired`.
        """
        now = time.monotonic()
        while True:
            if self._urgent:
                at, item = self._urgent.popleft()
            elif self._normal:
                at, item = self._normal.pop()
            else:
                return None
            if now - at <= self.max_delay:
                return item
            self.expired += 1
            if self.on_expired is not None:
                self.on_expired(item)
