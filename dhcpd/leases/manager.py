"""The lease manager: who holds which address, decided under explicit asyncio locks.

Locking rule: a public method that acts for a client holds that client's lock
for its whole run, and the lock of an address while it changes that address's
record; locks are always taken client first, then address. The choice of a
free address is synchronous (no await between looking and marking), so two
clients can never be handed the same address, and no client waits on
another's slow work (a store commit, later a callout).
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from ipaddress import IPv4Address

from dhcpd.config import Reservation, Subnet
from dhcpd.logsetup import get_logger
from dhcpd.wire import HardwareAddress
from dhcpd.wire.addresses import address_int

from .allocator import PoolAllocator
from .locks import KeyedLocks
from .model import (
    INFINITE,
    Client,
    ClientKey,
    CommitOutcome,
    CommitResult,
    Lease,
    LeaseState,
    Offer,
)
from .stores import LeaseStore

log = get_logger("dhcpd.leases")

# The owner of a record that belongs to no client (an address found in use by
# conflict detection): no client key matches it, so nobody has affinity to it.
NO_OWNER: ClientKey = b""
NO_HW_ADDRESS = HardwareAddress(0, b"")


# Called with the locks still held (the callout API's AddressOffer/AddressDel/
# DeleteClient run there). A commit hook gets (lease, renewed) and says
# whether to go on with the reply.
CommitHook = Callable[[Lease, bool], Awaitable[bool]]
LeaseHook = Callable[[Lease], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class ReclaimReport:
    expired: int = 0
    deleted: int = 0
    offers_dropped: int = 0


@dataclass(frozen=True, slots=True)
class PoolUsage:
    subnet_id: int
    first: IPv4Address
    last: IPv4Address
    size: int
    active: int  # ACTIVE leases not yet ended
    declined: int = 0  # DECLINED addresses still on probation

    @property
    def free(self) -> int:
        return self.size - self.active - self.declined


class LeaseManager:
    def __init__(
        self,
        store: LeaseStore,
        subnets: Iterable[Subnet],
        offer_hold_time: float = 30.0,
        decline_probation_time: float = 86400.0,
        hold_reclaimed_time: float = 3600.0,
    ) -> None:
        self.store = store
        self.offer_hold_time = offer_hold_time
        self.decline_probation_time = decline_probation_time
        self.hold_reclaimed_time = hold_reclaimed_time
        self._by_address: dict[int, Lease] = {}  # keyed by address_int(address): cheaper to hash
        self._by_client: dict[ClientKey, Lease] = {}
        self._offers: dict[int, Offer] = {}
        self._offer_of_client: dict[ClientKey, Offer] = {}
        self._client_locks = KeyedLocks()
        self._address_locks = KeyedLocks()
        self._subnets: dict[int, Subnet] = {}
        self._allocators: dict[int, list[PoolAllocator]] = {}
        self._reserved: dict[int, Reservation] = {}
        # Called under the address lock directly before a record is deleted.
        self.on_delete: LeaseHook | None = None
        self.set_subnets(subnets)

    # --- configuration and start-up ----------------------------------------

    def set_subnets(self, subnets: Iterable[Subnet]) -> None:
        """Install (or, on reload, replace) the subnets; leases stay as they are."""
        self._subnets = {s.id: s for s in subnets}
        self._allocators = {
            s.id: [PoolAllocator(p) for p in s.pools] for s in self._subnets.values()
        }
        self._reserved = {
            address_int(r.address): r for s in self._subnets.values() for r in s.reservations
        }
        for lease in self._by_address.values():
            self._note_reusable(lease.address)

    def set_timers(
        self, offer_hold_time: float, decline_probation_time: float, hold_reclaimed_time: float
    ) -> None:
        """Install (or, on reload, replace) the timing settings."""
        self.offer_hold_time = offer_hold_time
        self.decline_probation_time = decline_probation_time
        self.hold_reclaimed_time = hold_reclaimed_time

    async def load(self) -> int:
        """Fill the index from the store (at start): every acknowledged lease is known again."""
        leases = await self.store.load()
        for lease in sorted(leases, key=lambda item: item.starts):
            self._index(lease)
            if lease.state in (LeaseState.RELEASED, LeaseState.EXPIRED):
                self._note_reusable(lease.address)
        log.info("leases_loaded", count=len(leases))
        return len(leases)

    # --- lookups (no lock: synchronous reads of the index) ------------------

    def client_lock(self, key: ClientKey) -> AbstractAsyncContextManager[None]:
        """The client's lock, for work that must not interleave with its exchanges."""
        return self._client_locks.hold(key)

    def lease_of_client(self, key: ClientKey) -> Lease | None:
        return self._by_client.get(key)

    def lease_at(self, address: IPv4Address) -> Lease | None:
        return self._by_address.get(address_int(address))

    def leases(self) -> list[Lease]:
        return list(self._by_address.values())

    def reservation_for(self, subnet: Subnet, client: Client) -> Reservation | None:
        for reservation in subnet.reservations:
            if _reservation_matches(reservation, client):
                return reservation
        return None

    def is_free_for(self, address: IPv4Address, client: Client, now: float) -> bool:
        key = client.key
        reservation = self._reserved.get(address_int(address))
        if reservation is not None and not _reservation_matches(reservation, client):
            return False
        record = self._by_address.get(address_int(address))
        if record is not None and record.blocks_address(now) and (
            record.client_key != key or record.state is LeaseState.DECLINED
        ):
            return False
        offer = self._offers.get(address_int(address))
        return offer is None or offer.expires <= now or offer.client_key == key

    def usage(self, now: float) -> list[PoolUsage]:
        """Per pool: addresses leased and declined right now (one pass over the index)."""
        pools = [(s.id, p) for s in self._subnets.values() for p in s.pools]
        order = sorted(range(len(pools)), key=lambda i: int(pools[i][1].first))
        starts = [int(pools[i][1].first) for i in order]
        active = [0] * len(pools)
        declined = [0] * len(pools)
        for lease in self._by_address.values():
            if not lease.blocks_address(now):
                continue
            position = bisect.bisect_right(starts, address_int(lease.address)) - 1
            if position < 0 or lease.address not in pools[order[position]][1]:
                continue
            counts = declined if lease.state is LeaseState.DECLINED else active
            counts[order[position]] += 1
        return [
            PoolUsage(subnet_id, pool.first, pool.last, pool.size, active[i], declined[i])
            for i, (subnet_id, pool) in enumerate(pools)
        ]

    # --- DHCPDISCOVER ---------------------------------------------------------

    async def offer(
        self,
        client: Client,
        subnet: Subnet,
        requested: IPv4Address | None,
        now: float,
        bootp: bool = False,
    ) -> Offer | None:
        """Pick and hold an address for `client` (RFC 2131 section 4.3.1); None if exhausted."""
        async with self._client_locks.hold(client.key):
            address = self._choose(client, subnet, requested, now, bootp)
            if address is None:
                return None
            return self._hold(client.key, subnet.id, address, now)

    def _choose(
        self, client: Client, subnet: Subnet, requested: IPv4Address | None, now: float,
        bootp: bool,
    ) -> IPv4Address | None:
        key = client.key
        reservation = self.reservation_for(subnet, client)
        if reservation is not None and self.is_free_for(reservation.address, client, now):
            return reservation.address
        # Membership by address, not subnet id: ids may change when subnets are
        # reordered in the configuration.
        held = self._offer_of_client.get(key)
        if held is not None and subnet.contains(held.address) and held.expires > now and \
                self._assignable(subnet, held.address, client, now, bootp):
            return held.address
        previous = self._by_client.get(key)
        if previous is not None and subnet.contains(previous.address) and \
                self._assignable(subnet, previous.address, client, now, bootp):
            return previous.address
        if requested is not None and self._assignable(subnet, requested, client, now, bootp):
            return requested
        for allocator in self._allocators.get(subnet.id, []):
            if bootp and not allocator.pool.allow_bootp:
                continue
            address = allocator.allocate(
                lambda a: self._never_used(a, now),
                lambda a: self._assignable(subnet, a, client, now, bootp),
            )
            if address is not None:
                return address
        log.warning("pool_exhausted", subnet=str(subnet.network), subnet_id=subnet.id)
        return None

    def _assignable(
        self, subnet: Subnet, address: IPv4Address, client: Client, now: float, bootp: bool
    ) -> bool:
        pool = subnet.pool_of(address)
        if pool is None or (bootp and not pool.allow_bootp):
            return False
        return self.is_free_for(address, client, now)

    def _never_used(self, address: IPv4Address, now: float) -> bool:
        if address_int(address) in self._by_address or address_int(address) in self._reserved:
            return False
        offer = self._offers.get(address_int(address))
        return offer is None or offer.expires <= now

    def _hold(self, key: ClientKey, subnet_id: int, address: IPv4Address, now: float) -> Offer:
        old = self._offer_of_client.get(key)
        # The same address held again (a REQUEST for its OFFER) is not given back to
        # the pool in between: the new offer replaces the old one below.
        if old is not None and address_int(old.address) != address_int(address):
            self._drop_offer_of(key)
        offer = Offer(address, key, subnet_id, now + self.offer_hold_time)
        self._offers[address_int(address)] = offer
        self._offer_of_client[key] = offer
        return offer

    def _drop_offer_of(self, key: ClientKey) -> None:
        old = self._offer_of_client.pop(key, None)
        if old is not None and self._offers.get(address_int(old.address)) is old:
            del self._offers[address_int(old.address)]
            if address_int(old.address) not in self._by_address:
                self._note_reusable(old.address)

    def forget_offer(self, key: ClientKey) -> None:
        """The client chose another server (RFC 2131 section 4.3.2, SELECTING)."""
        self._drop_offer_of(key)

    # --- DHCPREQUEST / BOOTREQUEST -------------------------------------------

    def may_have(
        self, client: Client, subnet: Subnet, address: IPv4Address, now: float, bootp: bool = False
    ) -> bool:
        """Whether `client` may be given `address` in `subnet` right now."""
        reservation = self.reservation_for(subnet, client)
        if reservation is not None and self.is_free_for(reservation.address, client, now):
            return address_int(address) == address_int(reservation.address)
        # No reservation, or its address is held by someone else: the pools
        # serve this client, as _choose offered.
        return self._assignable(subnet, address, client, now, bootp)

    async def commit(
        self,
        client: Client,
        subnet: Subnet,
        address: IPv4Address,
        lease_time: int,
        now: float,
        bootp: bool = False,
        under_lock: CommitHook | None = None,
    ) -> CommitResult:
        """Make `address` the client's lease and store it durably before returning."""
        address_key = address_int(address)
        async with self._client_locks.hold(client.key), self._address_locks.hold(address_key):
            if not self.may_have(client, subnet, address, now, bootp):
                return CommitResult(CommitOutcome.REFUSED, None, "address not available")
            existing = self._by_address.get(address_key)
            renewed = (
                existing is not None and existing.client_key == client.key
                and existing.is_active(now)
            )
            expires = now + (INFINITE if lease_time >= INFINITE else lease_time)
            lease = Lease(
                address=address, client_key=client.key, hw_address=client.hw_address,
                client_id=client.client_id, subnet_id=subnet.id, state=LeaseState.ACTIVE,
                starts=existing.starts if renewed and existing else now, expires=expires,
                hostname=client.hostname,
            )
            previous = self._by_client.get(client.key)
            if not await self._store_held(lease, now):
                return CommitResult(CommitOutcome.REFUSED, None, "address held in the store")
            proceed = await under_lock(lease, renewed) if under_lock is not None else True
        if previous is not None and previous.is_active(now) and \
                address_int(previous.address) != address_int(address):
            # The client moved to a new address: its old one goes back to the pool.
            await self._end_lease(previous, LeaseState.RELEASED, now)
        outcome = CommitOutcome.RENEWED if renewed else CommitOutcome.NEW
        return CommitResult(outcome, lease, proceed=proceed)

    async def _store_held(self, lease: Lease, now: float) -> bool:
        """Write `lease` with its address held for its client meanwhile (callers hold
        the client and address locks); index it, or re-read the store's record if
        the store refused it."""
        # Held while the store writes, so that no other client is offered it.
        self._hold(lease.client_key, lease.subnet_id, lease.address, now)
        try:
            written = await self.store.write(lease, now)
            if written:
                self._index(lease)
        finally:
            self._drop_offer_of(lease.client_key)
        if not written:
            await self._refresh(lease.address)
        return written

    async def _refresh(self, address: IPv4Address) -> None:
        record = await self.store.get(address)
        if record is not None:
            self._index(record)

    # --- DHCPRELEASE, DHCPDECLINE -------------------------------------------

    async def release(
        self, client: Client, address: IPv4Address, now: float,
        under_lock: LeaseHook | None = None,
    ) -> Lease | None:
        """RFC 2131 section 4.3.4: the address goes back, the record stays for affinity."""
        async with self._client_locks.hold(client.key):
            lease = self._by_address.get(address_int(address))
            if lease is None or lease.client_key != client.key or not lease.is_active(now):
                return None
            ended = await self._end_lease(lease, LeaseState.RELEASED, now)
            if ended is not None and under_lock is not None:
                await under_lock(ended)
            return ended

    async def decline(
        self, client: Client, address: IPv4Address, now: float,
        under_lock: LeaseHook | None = None,
    ) -> Lease | None:
        """RFC 2131 section 4.3.3: the address is in use elsewhere; quarantine it."""
        address_key = address_int(address)
        async with self._client_locks.hold(client.key), self._address_locks.hold(address_key):
            lease = self._by_address.get(address_key)
            offer = self._offers.get(address_key)
            owned = lease is not None and lease.client_key == client.key
            offered = offer is not None and offer.client_key == client.key
            if not (owned or offered):
                return None
            # The record keeps the decliner for the audit trail, but a DECLINED
            # record blocks everyone, its owner included, until probation ends.
            declined = Lease(
                address=address, client_key=client.key, hw_address=client.hw_address,
                client_id=client.client_id,
                subnet_id=lease.subnet_id if lease else (offer.subnet_id if offer else 0),
                state=LeaseState.DECLINED, starts=now,
                expires=now + self.decline_probation_time,
            )
            if not await self.store.write(declined, now):
                log.error("decline_not_stored", address=str(address))
                return None
            self._drop_offer_of(client.key)
            self._index(declined)
            if under_lock is not None:
                await under_lock(declined)
            return declined

    async def mark_conflict(
        self, client: Client, address: IPv4Address, now: float,
        under_lock: LeaseHook | None = None,
    ) -> Lease | None:
        """Conflict detection: `address`, offered to `client`, answered a ping.

        It is taken out of use like a declined address (DECLINED, on probation
        for `decline_probation_time`), but the record has no owner: the client
        did nothing wrong and no one is steered back to it. The client's offer
        is dropped. None (nothing recorded) when the address is no longer
        offered to this client or the store refused the write.
        """
        address_key = address_int(address)
        async with self._client_locks.hold(client.key), self._address_locks.hold(address_key):
            offer = self._offers.get(address_key)
            if offer is None or offer.client_key != client.key:
                return None
            conflict = Lease(
                address=address, client_key=NO_OWNER, hw_address=NO_HW_ADDRESS,
                client_id=None, subnet_id=offer.subnet_id, state=LeaseState.DECLINED,
                starts=now, expires=now + self.decline_probation_time,
            )
            if not await self.store.write(conflict, now):
                log.error("conflict_not_stored", address=str(address))
                return None
            self._drop_offer_of(client.key)
            self._index(conflict)
            if under_lock is not None:
                await under_lock(conflict)
            return conflict

    async def _end_lease(self, lease: Lease, state: LeaseState, now: float) -> Lease | None:
        async with self._address_locks.hold(address_int(lease.address)):
            if self._by_address.get(address_int(lease.address)) is not lease:
                return None  # changed meanwhile (renewed, declined): leave it be
            ended = replace(lease, state=state, expires=min(lease.expires, now))
            await self.store.write(ended, now)
            self._index(ended)
            self._note_reusable(lease.address)
            return ended

    # --- background reclamation ---------------------------------------------

    async def reclaim(self, now: float) -> ReclaimReport:
        """Expire leases past their end, end probations, forget old records and offers."""
        expired = deleted = offers_dropped = 0
        for offer in [o for o in self._offers.values() if o.expires <= now]:
            if self._offers.get(address_int(offer.address)) is offer:
                del self._offers[address_int(offer.address)]
            if self._offer_of_client.get(offer.client_key) is offer:
                del self._offer_of_client[offer.client_key]
            if address_int(offer.address) not in self._by_address:
                self._note_reusable(offer.address)
            offers_dropped += 1
        for lease in list(self._by_address.values()):
            if lease.state is LeaseState.ACTIVE and lease.expires <= now:
                if await self._end_lease(lease, LeaseState.EXPIRED, now) is not None:
                    log.info("lease_expired", address=str(lease.address),
                             client=str(lease.hw_address))
                    expired += 1
            elif (lease.state is LeaseState.DECLINED and lease.expires <= now) or \
                    (lease.state in (LeaseState.RELEASED, LeaseState.EXPIRED) and \
                    lease.expires + self.hold_reclaimed_time <= now):
                await self._delete(lease)
                deleted += 1
        return ReclaimReport(expired, deleted, offers_dropped)

    async def _delete(self, lease: Lease) -> None:
        async with self._address_locks.hold(address_int(lease.address)):
            if self._by_address.get(address_int(lease.address)) is not lease:
                return
            if self.on_delete is not None and lease.client_key != NO_OWNER:
                # DeleteClient is about a client's record; a conflict record has none.
                await self.on_delete(lease)
            await self.store.delete(lease.address)
            del self._by_address[address_int(lease.address)]
            if self._by_client.get(lease.client_key) is lease:
                del self._by_client[lease.client_key]
            self._note_reusable(lease.address)

    # --- control API: administrative add and delete ---------------------------

    async def add_lease(
        self, client: Client, address: IPv4Address, lease_time: int, now: float
    ) -> CommitResult:
        """Record a lease by hand (control API lease-add): the address must be free.

        Same locks and store write as `commit`, but the address need not be in
        a pool, only inside a configured subnet (not its network or broadcast
        address), and any live record or offer on it refuses the add.
        """
        subnet = next((s for s in self._subnets.values() if address in s.network), None)
        if subnet is None:
            return CommitResult(CommitOutcome.REFUSED, None, "address is in no configured subnet")
        if subnet.network.prefixlen < 31 and address in (
            subnet.network.network_address, subnet.network.broadcast_address
        ):
            return CommitResult(CommitOutcome.REFUSED, None,
                                "address is the network or broadcast address")
        address_key = address_int(address)
        async with self._client_locks.hold(client.key), self._address_locks.hold(address_key):
            record = self._by_address.get(address_key)
            if record is not None and record.blocks_address(now):
                return CommitResult(CommitOutcome.REFUSED, None,
                                    f"address is in use ({record.state.name.lower()})")
            if not self.is_free_for(address, client, now):
                return CommitResult(CommitOutcome.REFUSED, None,
                                    "address is reserved for or offered to another client")
            expires = now + (INFINITE if lease_time >= INFINITE else lease_time)
            lease = Lease(
                address=address, client_key=client.key, hw_address=client.hw_address,
                client_id=client.client_id, subnet_id=subnet.id, state=LeaseState.ACTIVE,
                starts=now, expires=expires, hostname=client.hostname,
            )
            previous = self._by_client.get(client.key)
            if not await self._store_held(lease, now):
                return CommitResult(CommitOutcome.REFUSED, None, "address held in the store")
        if previous is not None and previous.is_active(now) and \
                address_int(previous.address) != address_int(address):
            await self._end_lease(previous, LeaseState.RELEASED, now)
        log.info("lease_added", address=str(address), client=str(client.hw_address),
                 lease_time=lease_time)
        return CommitResult(CommitOutcome.NEW, lease)

    async def delete_lease(self, address: IPv4Address, now: float) -> Lease | None:
        """Delete the record of `address` (control API lease-delete); None if there is none.

        Goes through `_delete` (the address lock, the on_delete hook, the store),
        so there is one place where a record is deleted.
        """
        for _ in range(3):  # the record may be replaced while we wait for its lock
            lease = self._by_address.get(address_int(address))
            if lease is None:
                return None
            await self._delete(lease)
            if address_int(address) not in self._by_address:
                log.info("lease_deleted", address=str(address), client=str(lease.hw_address))
                return lease
        return None

    # --- end control API --------------------------------------------------------

    # --- index upkeep ---------------------------------------------------------

    def _index(self, lease: Lease) -> None:
        old = self._by_address.get(address_int(lease.address))
        if old is not None and old.client_key != lease.client_key and \
                self._by_client.get(old.client_key) is old:
            del self._by_client[old.client_key]
        self._by_address[address_int(lease.address)] = lease
        if lease.state is LeaseState.DECLINED:
            # No affinity to a declined address: its client is not steered back.
            current = self._by_client.get(lease.client_key)
            if current is not None and address_int(current.address) == address_int(lease.address):
                del self._by_client[lease.client_key]
        elif lease.client_key:
            current = self._by_client.get(lease.client_key)
            # Keep the client's best record: an active lease beats an ended one.
            if current is None or address_int(current.address) == address_int(lease.address) or \
                    lease.state is LeaseState.ACTIVE or current.state is not LeaseState.ACTIVE:
                self._by_client[lease.client_key] = lease

    def _note_reusable(self, address: IPv4Address) -> None:
        for allocators in self._allocators.values():
            for allocator in allocators:
                if address in allocator.pool:
                    allocator.mark_reusable(address)
                    return



def _reservation_matches(reservation: Reservation, client: Client) -> bool:
    if reservation.client_id is not None and reservation.client_id == client.client_id:
        return True
    return reservation.hw_address is not None and reservation.hw_address == client.hw_address
