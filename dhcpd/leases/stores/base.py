"""The lease store interface: what the lease manager needs from any backend.

The manager keeps its own in-memory index and treats the store as the durable
truth. `write` is a conditional upsert so that a store shared by several
daemons (PostgreSQL) can refuse an address that another server holds: the
manager then re-reads it with `get` and picks another.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from ipaddress import IPv4Address

from ..model import Lease


class LeaseStore(ABC):
    @abstractmethod
    async def open(self) -> None:
        """Connect and create the schema if needed."""

    @abstractmethod
    async def load(self) -> list[Lease]:
        """Every lease record, for the manager's index at start."""

    @abstractmethod
    async def get(self, address: IPv4Address) -> Lease | None:
        """The current record of one address."""

    @abstractmethod
    async def write(self, lease: Lease, now: float) -> bool:
        """Durably store `lease`; return only once it is committed.

        Returns False, writing nothing, when the address is held by another
        client (a record of another client that is ACTIVE or DECLINED and not
        yet expired at `now`).
        """

    @abstractmethod
    async def delete(self, address: IPv4Address) -> None:
        """Durably remove the record of `address`."""

    @abstractmethod
    async def close(self) -> None:
        """Finish pending writes and release the backend."""


def may_overwrite(existing: Lease | None, new: Lease, now: float) -> bool:
    """The conditional-write rule every store applies."""
    return (
        existing is None
        or existing.client_key == new.client_key
        or not existing.blocks_address(now)
    )
