"""Free-address search in one pool: never-used addresses first, then reused ones.

A cursor walks the pool once from its start, handing out addresses that have
never carried a lease; addresses that become free again (released, expired,
declined after probation, offers not taken up) queue in `reusable`, oldest
first, so that a returning client finds its previous address still unused for
as long as possible.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address

from dhcpd.config import Pool
from dhcpd.wire.addresses import address_int, address_of


class PoolAllocator:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._cursor = int(pool.first)
        self._end = int(pool.last)
        # keyed by the address's int: IPv4Address hashes through hex() (~1 µs)
        self._reusable: dict[int, None] = {}

    def mark_reusable(self, address: IPv4Address) -> None:
        if address in self.pool:
            value = address_int(address)
            self._reusable.pop(value, None)
            self._reusable[value] = None

    def allocate(
        self,
        never_used: Callable[[IPv4Address], bool],
        is_free: Callable[[IPv4Address], bool],
    ) -> IPv4Address | None:
        while self._cursor <= self._end:
            address = address_of(self._cursor)
            self._cursor += 1
            if never_used(address):
                return address
        while self._reusable:
            value = next(iter(self._reusable))
            del self._reusable[value]
            address = address_of(value)
            if is_free(address):
                return address
        return None

    @property
    def reusable_count(self) -> int:
        return len(self._reusable)

    @property
    def untouched_count(self) -> int:
        return max(0, self._end - self._cursor + 1)
