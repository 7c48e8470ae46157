"""The bounded queue between the receive loop and the workers.

Two lanes: packets that finish an exchange (REQUEST, RELEASE, DECLINE, INFORM)
go before those that start one (DISCOVER, BOOTP), and when the queue is full
an urgent packet takes the place of the oldest waiting DISCOVER. Under overload the server
thus completes the exchanges it began instead of offering to ever more clients
that it then cannot acknowledge, and a packet that waited longer than its
client will (max_delay) is dropped unprocessed rather than answered too late.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Queued(Generic[T]):
    item: T
    at: float  # monotonic time of arrival


class WorkQueue(Generic[T]):
    def __init__(self, capacity: int, max_delay: float) -> None:
        self.capacity = capacity
        self.max_delay = max_delay
        self._urgent: deque[Queued[T]] = deque()
        self._normal: deque[Queued[T]] = deque()
        self._available = asyncio.Semaphore(0)
        self._unfinished = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.expired = 0  # items dropped for waiting too long

    def __len__(self) -> int:
        return len(self._urgent) + len(self._normal)

    def put(self, item: T, urgent: bool) -> bool:
        """Queue `item`; False when a packet was dropped for want of room.

        When full, an urgent item evicts the oldest normal one (and False is
        returned for that loss); a normal item is refused.
        """
        if len(self) >= self.capacity:
            if not urgent or not self._normal:
                return False
            self._normal.popleft()
            self._urgent.append(Queued(item, time.monotonic()))
            return False
        (self._urgent if urgent else self._normal).append(Queued(item, time.monotonic()))
        self._unfinished += 1
        self._idle.clear()
        self._available.release()
        return True

    async def get(self) -> Queued[T] | None:
        """The next item, urgent first; None for one that expired (already counted)."""
        await self._available.acquire()
        queued = self._urgent.popleft() if self._urgent else self._normal.popleft()
        if time.monotonic() - queued.at > self.max_delay:
            self.expired += 1
            self.done()
            return None
        return queued

    def done(self) -> None:
        """Mark one item from `get` as finished."""
        self._unfinished -= 1
        if self._unfinished == 0:
            self._idle.set()

    async def join(self) -> None:
        """Wait until every queued item has been taken and finished."""
        await self._idle.wait()
