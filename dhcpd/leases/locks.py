"""Per-key asyncio locks that exist only while someone holds or waits for them.

The lock is our own rather than asyncio.Lock: the same semantics (FIFO
waiters, a cancelled waiter passes its turn on), but compiled (setup.py), so
taking a free lock is a few field reads instead of an interpreted coroutine
(three locks per DORA; asyncio.Lock's acquire and release cost ~2 µs a pair).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from types import TracebackType

SPARE_ENTRIES = 256


class _Entry:
    """One key's lock: `locked`, and the futures of the tasks waiting for it."""

    __slots__ = ("locked", "users", "waiters")

    def __init__(self) -> None:
        self.locked = False
        self.users = 0  # holders and waiters: the entry goes when the last one leaves
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def wait_for_turn(self) -> None:
        """Take the lock when it is held or others wait for it (free and unqueued,
        the caller takes it without a coroutine). A newcomer never overtakes a
        waiter: asyncio.Lock lets it when every waiter is cancelled, but then the
        first of those passes the turn on (below), so nobody is stranded either way."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            try:
                await waiter
            finally:
                self.waiters.remove(waiter)
        except asyncio.CancelledError:
            # Woken and cancelled before running, or cancelled while the lock is
            # free: the next waiter must not wait for a wake-up that went here.
            if not self.locked:
                self._wake_first()
            raise
        self.locked = True

    def release(self) -> None:
        if not self.locked:
            raise RuntimeError("Lock is not acquired.")
        self.locked = False
        self._wake_first()

    def _wake_first(self) -> None:
        if self.waiters:
            first = self.waiters[0]
            if not first.done():
                first.set_result(None)


class _Holding:
    """`async with locks.hold(key)`: a plain class, cheaper than an async generator."""

    __slots__ = ("_key", "_owner")

    def __init__(self, owner: KeyedLocks, key: Hashable) -> None:
        self._owner = owner
        self._key = key

    async def __aenter__(self) -> None:
        owner = self._owner
        entries = owner._entries
        entry = entries.get(self._key)
        if entry is None:
            # A free entry is unlocked with no waiters: reuse it.
            spare = owner._spare
            entry = entries[self._key] = spare.pop() if spare else _Entry()
        entry.users += 1
        if not entry.locked and not entry.waiters:  # the common case, without a coroutine
            entry.locked = True
            return
        try:
            await entry.wait_for_turn()
        except BaseException:
            self._release_user(entry)
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entry = self._owner._entries[self._key]
        entry.release()
        self._release_user(entry)

    def _release_user(self, entry: _Entry) -> None:
        entry.users -= 1
        if entry.users == 0:
            owner = self._owner
            del owner._entries[self._key]
            if len(owner._spare) < SPARE_ENTRIES:
                owner._spare.append(entry)


class KeyedLocks:
    """One lock per key (a client, an address), so unrelated exchanges never wait."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}
        self._spare: list[_Entry] = []  # unused entries, kept for reuse

    def hold(self, key: Hashable) -> _Holding:
        return _Holding(self, key)

    def is_held(self, key: Hashable) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry.locked

    def __len__(self) -> int:
        return len(self._entries)
