"""An in-memory lease store, for tests and throwaway setups."""

from __future__ import annotations

from ipaddress import IPv4Address

from ..model import Lease
from .base import LeaseStore, may_overwrite


class MemoryLeaseStore(LeaseStore):
    def __init__(self) -> None:
        self.records: dict[IPv4Address, Lease] = {}
        self.writes = 0

    async def open(self) -> None:
        pass

    async def load(self) -> list[Lease]:
        return list(self.records.values())

    async def get(self, address: IPv4Address) -> Lease | None:
        return self.records.get(address)

    async def write(self, lease: Lease, now: float) -> bool:
        if not may_overwrite(self.records.get(lease.address), lease, now):
            return False
        self.records[lease.address] = lease
        self.writes += 1
        return True

    async def delete(self, address: IPv4Address) -> None:
        self.records.pop(address, None)

    async def close(self) -> None:
        pass
