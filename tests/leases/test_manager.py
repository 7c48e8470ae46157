"""The lease manager: allocation order, locking, restart, reclamation."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address
from pathlib import Path

from dhcpd.leases import Client, CommitOutcome, Lease, LeaseManager, LeaseState, client_key
from dhcpd.leases.stores import MemoryLeaseStore, SqliteLeaseStore
from dhcpd.wire import HardwareAddress
from tests.factories import config

NOW = 1_700_000_000.0
SUBNETS = config().subnets
SUBNET = SUBNETS[0]


def client(n: int) -> Client:
    hw = HardwareAddress(1, bytes([2, 0, 0, 0, 1, n]))
    return Client(client_key(None, hw), hw, None, f"c{n}")


class SlowStore(MemoryLeaseStore):
    """A store whose writes for one address hang until released."""

    def __init__(self, slow: IPv4Address) -> None:
        super().__init__()
        self.slow = slow
        self.gate = asyncio.Event()

    async def write(self, lease: Lease, now: float) -> bool:
        if lease.address == self.slow:
            await self.gate.wait()
        return await super().write(lease, now)


async def test_new_addresses_come_before_reused_ones() -> None:
    manager = LeaseManager(MemoryLeaseStore(), SUBNETS)
    first = await manager.commit(client(1), SUBNET, IPv4Address("192.0.2.100"), 60, NOW)
    assert first.outcome is CommitOutcome.NEW
    await manager.release(client(1), IPv4Address("192.0.2.100"), NOW)
    offer = await manager.offer(client(2), SUBNET, None, NOW)
    # .100 was used by client 1: client 2 gets a never-used address instead.
    assert offer is not None and offer.address == IPv4Address("192.0.2.101")


async def test_a_slow_commit_does_not_hold_up_other_clients() -> None:
    slow_address = IPv4Address("192.0.2.100")
    store = SlowStore(slow_address)
    manager = LeaseManager(store, SUBNETS)
    stuck = asyncio.create_task(manager.commit(client(1), SUBNET, slow_address, 60, NOW))
    await asyncio.sleep(0.01)
    # Client 2's whole exchange completes while client 1's write hangs.
    offer = await asyncio.wait_for(manager.offer(client(2), SUBNET, None, NOW), 1)
    assert offer is not None and offer.address != slow_address
    done = await asyncio.wait_for(
        manager.commit(client(2), SUBNET, offer.address, 60, NOW), 1
    )
    assert done.outcome is CommitOutcome.NEW
    assert not stuck.done()
    store.gate.set()
    assert (await stuck).outcome is CommitOutcome.NEW


async def test_two_clients_racing_for_one_address_get_one_each() -> None:
    manager = LeaseManager(MemoryLeaseStore(), SUBNETS)
    wanted = IPv4Address("192.0.2.105")
    results = await asyncio.gather(
        manager.commit(client(1), SUBNET, wanted, 60, NOW),
        manager.commit(client(2), SUBNET, wanted, 60, NOW),
    )
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes == ["new", "refused"]


async def test_restart_from_sqlite_knows_every_lease(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    store = SqliteLeaseStore(path)
    await store.open()
    manager = LeaseManager(store, SUBNETS)
    given = {}
    for n in range(1, 9):
        offer = await manager.offer(client(n), SUBNET, None, NOW)
        assert offer is not None
        await manager.commit(client(n), SUBNET, offer.address, 3600, NOW)
        given[n] = offer.address
    await store.close()

    store = SqliteLeaseStore(path)
    await store.open()
    restarted = LeaseManager(store, SUBNETS)
    assert await restarted.load() == 8
    for n, address in given.items():
        lease = restarted.lease_of_client(client(n).key)
        assert lease is not None and lease.address == address and lease.is_active(NOW)
        again = await restarted.offer(client(n), SUBNET, None, NOW)
        assert again is not None and again.address == address
    # A new client is not given any of them.
    fresh = await restarted.offer(client(99), SUBNET, None, NOW)
    assert fresh is not None and fresh.address not in given.values()
    await store.close()


async def test_reclaim_expires_leases_and_forgets_them_later() -> None:
    store = MemoryLeaseStore()
    manager = LeaseManager(store, SUBNETS, hold_reclaimed_time=100)
    address = IPv4Address("192.0.2.100")
    await manager.commit(client(1), SUBNET, address, 60, NOW)
    report = await manager.reclaim(NOW + 61)
    assert report.expired == 1
    lease = manager.lease_at(address)
    assert lease is not None and lease.state is LeaseState.EXPIRED
    assert store.records[address].state is LeaseState.EXPIRED
    report = await manager.reclaim(NOW + 61 + 101)
    assert report.deleted == 1
    assert manager.lease_at(address) is None and address not in store.records


async def test_store_refusal_is_reported_and_indexed() -> None:
    store = MemoryLeaseStore()
    address = IPv4Address("192.0.2.100")
    # Another server (sharing the store) holds the address already.
    other = client(50)
    await store.write(Lease(address, other.key, other.hw_address, None, 1, LeaseState.ACTIVE,
                            NOW, NOW + 3600), NOW)
    manager = LeaseManager(store, SUBNETS)
    result = await manager.commit(client(1), SUBNET, address, 60, NOW)
    assert result.outcome is CommitOutcome.REFUSED
    held = manager.lease_at(address)
    assert held is not None and held.client_key == other.key


async def test_moving_client_releases_its_old_address() -> None:
    manager = LeaseManager(MemoryLeaseStore(), SUBNETS)
    old = IPv4Address("192.0.2.100")
    new = IPv4Address("192.0.2.104")
    await manager.commit(client(1), SUBNET, old, 600, NOW)
    await manager.commit(client(1), SUBNET, new, 600, NOW)
    old_lease = manager.lease_at(old)
    assert old_lease is not None and old_lease.state is LeaseState.RELEASED
    current = manager.lease_of_client(client(1).key)
    assert current is not None and current.address == new


async def test_locks_are_dropped_when_unused() -> None:
    manager = LeaseManager(MemoryLeaseStore(), SUBNETS)
    for n in range(1, 6):
        await manager.offer(client(n), SUBNET, None, NOW)
    assert len(manager._client_locks) == 0


async def test_decline_of_an_acked_lease_is_stored_and_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    store = SqliteLeaseStore(path)
    await store.open()
    manager = LeaseManager(store, SUBNETS, decline_probation_time=600)
    address = IPv4Address("192.0.2.100")
    await manager.commit(client(1), SUBNET, address, 3600, NOW)
    assert await manager.decline(client(1), address, NOW) is not None
    await store.close()

    store = SqliteLeaseStore(path)
    await store.open()
    restarted = LeaseManager(store, SUBNETS, decline_probation_time=600)
    await restarted.load()
    record = restarted.lease_at(address)
    assert record is not None and record.state is LeaseState.DECLINED
    # Nobody, the decliner included, is given the address during probation.
    for n in (1, 2):
        offer = await restarted.offer(client(n), SUBNET, address, NOW + 10)
        assert offer is not None and offer.address != address
        refused = await restarted.commit(client(n), SUBNET, address, 60, NOW + 10)
        assert refused.outcome is CommitOutcome.REFUSED
    await store.close()


async def test_reserved_client_whose_address_is_taken_is_served_from_the_pool() -> None:
    from dhcpd.config import Reservation

    manager = LeaseManager(MemoryLeaseStore(), SUBNETS)
    reservation: Reservation = SUBNET.reservations[0]
    assert reservation.hw_address is not None
    squatter = client(9)
    await manager.commit(squatter, SUBNET, IPv4Address("192.0.2.100"), 60, NOW)
    # Someone holds the reserved address (say, leased before the reservation).
    manager._index(Lease(reservation.address, squatter.key, squatter.hw_address, None, 1,
                         LeaseState.ACTIVE, NOW, NOW + 3600))
    owner = Client(client_key(None, reservation.hw_address), reservation.hw_address, None)
    offer = await manager.offer(owner, SUBNET, None, NOW)
    assert offer is not None and offer.address != reservation.address
    result = await manager.commit(owner, SUBNET, offer.address, 60, NOW)
    assert result.outcome is CommitOutcome.NEW


async def test_reclaiming_a_lease_renewed_meanwhile_leaves_the_renewal() -> None:
    store = MemoryLeaseStore()
    manager = LeaseManager(store, SUBNETS)
    address = IPv4Address("192.0.2.100")
    first = await manager.commit(client(1), SUBNET, address, 60, NOW)
    assert first.lease is not None
    await manager.commit(client(1), SUBNET, address, 60, NOW + 50)  # renewed
    # The reclaimer acts on the record it read before the renewal.
    assert await manager._end_lease(first.lease, LeaseState.EXPIRED, NOW + 61) is None
    current = store.records[address]
    assert current.state is LeaseState.ACTIVE and current.expires == NOW + 110
