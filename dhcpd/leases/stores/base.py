"""The lease store interface: what the lease manager needs from any backend.

The manager keeps its own in-memory index and treats the store as the durable
truth. `write` is a conditional upsert so that a store shared by several
daemons (PostgreSQL) can refuse an address that another server holds: the
manager then re-reads it with `get` and picks another.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from ipaddress import IPv4Address

from ..model import Lease, LeaseState


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

        Returns False, writing nothing, when the address is held: a record of
        another client that is ACTIVE and not yet expired at `now`, or any
        DECLINED record still on probation (see `may_overwrite`).
        """

    @abstractmethod
    async def delete(self, address: IPv4Address) -> None:
        """Durably remove the record of `address`."""

    @abstractmethod
    async def close(self) -> None:
        """Finish pending writes and release the backend."""


def may_overwrite(existing: Lease | None, new: Lease, now: float) -> bool:
    """The conditional-write rule every store applies."""
    # The owner may rewrite its own record, except a DECLINED one: a declined
    # address stays out of use for everyone until its probation ends.
    return (
        existing is None
        or not existing.blocks_address(now)
        or (existing.client_key == new.client_key and existing.state is not LeaseState.DECLINED)
    )
