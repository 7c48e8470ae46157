"""Per-key asyncio locks that exist only while someone holds or waits for them."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from types import TracebackType


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
        entries = self._owner._entries
        entry = entries.get(self._key)
        if entry is None:
            entry = entries[self._key] = _Entry()
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
            del self._owner._entries[self._key]


class KeyedLocks:
    """One lock per key (a client, an address), so unrelated exchanges never wait."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}

    def hold(self, key: Hashable) -> _Holding:
        return _Holding(self, key)

    def is_held(self, key: Hashable) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry.lock.locked()

    def __len__(self) -> int:
        return len(self._entries)
