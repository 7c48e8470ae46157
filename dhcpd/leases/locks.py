"""Per-key asyncio locks that exist only while someone holds or waits for them."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from types import TracebackType

SPARE_ENTRIES = 256


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


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
            # A free entry's lock is unlocked with no waiters: reuse it (an
            # asyncio.Lock costs ~1 µs to make, three times per DORA).
            spare = owner._spare
            entry = entries[self._key] = spare.pop() if spare else _Entry()
        entry.users += 1
        try:
            await entry.lock.acquire()
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
        entry.lock.release()
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
        return entry is not None and entry.lock.locked()

    def __len__(self) -> int:
        return len(self._entries)
