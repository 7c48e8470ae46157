"""Conflict detection: an address new to the client is pinged before it is offered.

A fake prober stands in for the ICMP socket (dhcpd/transport/icmp.py has its own
tests); it says which addresses answer and can take its time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from dhcpd.config import parse_config
from dhcpd.errors import ConfigError
from dhcpd.hooks import AddressDelReason, HookTable
from dhcpd.hooks.dispatcher import CalloutDispatcher, HookPolicy
from dhcpd.hooks.session import PacketHooks
from dhcpd.leases import LeaseState
from dhcpd.leases.manager import NO_OWNER
from dhcpd.leases.stores import SqliteLeaseStore
from dhcpd.protocol import DropReason
from dhcpd.protocol.reading import client_of
from dhcpd.wire import DhcpMessage, MessageType
from tests.factories import BASE_CONFIG, SERVER_ADDRESS, Harness, context, request

POOL_FIRST = IPv4Address("192.0.2.100")
SECOND = IPv4Address("192.0.2.101")
RESERVED = IPv4Address("192.0.2.10")
RESERVED_CLIENT = 0x10  # mac(0x10) holds the reservation of 192.0.2.10 in BASE_CONFIG


def conflict_config(attempts: int = 2, timeout_ms: int = 300, max_conflicts: int = 3) -> str:
    return BASE_CONFIG.replace(
        "server:\n  authoritative: true\n",
        "server:\n  authoritative: true\n"
        f"  conflict_detection: {{attempts: {attempts}, timeout_ms: {timeout_ms}, "
        f"max_conflicts_per_discover: {max_conflicts}}}\n",
    )


@dataclass
class FakeProber:
    in_use: set[IPv4Address] = field(default_factory=set)
    delays: dict[IPv4Address, float] = field(default_factory=dict)
    probes: list[tuple[IPv4Address, int, float]] = field(default_factory=list)

    async def probe(self, address: IPv4Address, attempts: int, timeout: float) -> bool:
        self.probes.append((address, attempts, timeout))
        delay = self.delays.get(address, 0.0)
        if delay:
            await asyncio.sleep(delay)
        return address in self.in_use

    @property
    def probed(self) -> list[IPv4Address]:
        return [address for address, _, _ in self.probes]


def harness(prober: FakeProber, **kw: Any) -> Harness:
    return Harness(conflict_config(**kw), prober=prober)


async def offered(h: Harness, n: int = 1, **kw: Any) -> IPv4Address:
    outcome = await h.send(request(MessageType.DISCOVER, n, **kw))
    assert outcome.reply is not None, outcome
    assert outcome.reply.message.message_type is MessageType.OFFER
    return outcome.reply.message.yiaddr  # type: ignore[no-any-return]


async def test_a_conflicting_address_is_taken_out_of_use_and_the_next_one_offered() -> None:
    prober = FakeProber(in_use={POOL_FIRST})
    h = harness(prober)
    address = await offered(h)
    assert address == SECOND
    assert prober.probes == [(POOL_FIRST, 2, 0.3), (SECOND, 2, 0.3)]
    record = h.leases.lease_at(POOL_FIRST)
    assert record is not None and record.state is LeaseState.DECLINED
    assert record.client_key == NO_OWNER  # no owner: nobody is steered back to it
    assert record.expires == h.now + 600  # decline_probation_time
    assert h.store.records[POOL_FIRST] == record  # type: ignore[attr-defined]
    # The offered address is still only an offer, and the client can take it.
    assert SECOND not in h.store.records  # type: ignore[attr-defined]
    assert await h.dora() == SECOND
    # Another client is not offered the conflicting address either.
    assert await offered(h, 2) != POOL_FIRST


async def test_address_del_hook_sees_conflict_under_the_lease_locks() -> None:
    prober = FakeProber(in_use={POOL_FIRST})
    h = harness(prober)
    seen: list[tuple[AddressDelReason, IPv4Address, bool]] = []

    async def address_del(event: Any) -> None:
        # Run inside mark_conflict: the record is already indexed as DECLINED.
        record = h.leases.lease_at(event.address)
        seen.append((event.reason, event.address,
                     record is not None and record.state is LeaseState.DECLINED))

    dispatcher = CalloutDispatcher(HookTable(address_del=address_del), module="test")
    message = request(MessageType.DISCOVER)
    data = message.encode()
    hooks = PacketHooks(dispatcher, data, SERVER_ADDRESS)
    outcome = await h.protocol.handle(DhcpMessage.parse(data), context(), h.now, hooks)
    assert outcome.reply is not None and outcome.reply.message.yiaddr == SECOND
    assert seen == [(AddressDelReason.CONFLICT, POOL_FIRST, True)]


async def test_conflict_detection_off_probes_nothing() -> None:
    prober = FakeProber(in_use={POOL_FIRST})
    h = harness(prober, attempts=0)
    assert await offered(h) == POOL_FIRST
    assert prober.probes == []


async def test_default_configuration_has_conflict_detection_off() -> None:
    settings = parse_config(BASE_CONFIG).server.conflict_detection
    assert (settings.attempts, settings.timeout_ms, settings.max_conflicts_per_discover) == \
        (0, 500, 3)


@pytest.mark.parametrize("text", [
    "{attempts: 6}", "{attempts: -1}", "{timeout_ms: 0}", "{max_conflicts_per_discover: 0}",
    "{attemps: 1}",
])
def test_bad_conflict_detection_settings_are_rejected(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_config(BASE_CONFIG.replace(
            "server:\n", f"server:\n  conflict_detection: {text}\n"))


async def test_a_renewing_client_is_not_probed_for_its_active_lease() -> None:
    prober = FakeProber()
    h = harness(prober)
    address = await h.dora()
    prober.probes.clear()
    prober.in_use.add(address)  # the client itself answers now
    assert await offered(h) == address  # DISCOVER with an active lease
    ack = await h.send(request(MessageType.REQUEST, ciaddr=address), unicast=True)
    assert ack.reply is not None and ack.reply.message.message_type is MessageType.ACK
    assert prober.probes == []


async def test_the_previous_lease_the_client_asks_for_is_not_probed() -> None:
    prober = FakeProber()
    h = harness(prober)
    address = await h.dora()
    await h.send(request(MessageType.RELEASE, ciaddr=address, server_id=SERVER_ADDRESS))
    lease = h.leases.lease_at(address)
    assert lease is not None and lease.state is LeaseState.RELEASED
    prober.probes.clear()
    prober.in_use.add(address)
    assert await offered(h, requested=address) == address
    assert prober.probes == []


async def test_the_previous_lease_chosen_by_affinity_alone_is_probed() -> None:
    prober = FakeProber()
    h = harness(prober)
    address = await h.dora()
    await h.send(request(MessageType.RELEASE, ciaddr=address, server_id=SERVER_ADDRESS))
    prober.probes.clear()
    prober.in_use.add(address)  # someone took the released address meanwhile
    other = await offered(h)  # no option 50
    assert other != address
    assert prober.probed == [address, other]
    record = h.leases.lease_at(address)
    assert record is not None and record.state is LeaseState.DECLINED
    assert h.leases.lease_of_client(record.client_key) is None


async def test_a_reserved_address_is_not_probed() -> None:
    prober = FakeProber(in_use={RESERVED})
    h = harness(prober)
    assert await offered(h, RESERVED_CLIENT) == RESERVED
    assert prober.probes == []


async def test_after_max_conflicts_the_discover_is_dropped_noaddress() -> None:
    pool = [IPv4Address(f"192.0.2.{n}") for n in range(100, 110)]
    prober = FakeProber(in_use=set(pool))
    h = harness(prober, max_conflicts=3)
    outcome = await h.send(request(MessageType.DISCOVER))
    assert outcome.reply is None and outcome.drop is DropReason.NOADDRESS
    assert len(prober.probes) == 3
    declined = [lease for lease in h.leases.leases() if lease.state is LeaseState.DECLINED]
    assert len(declined) == 3
    assert all(lease.address in prober.probed for lease in declined)
    # The next DISCOVER goes on with the next candidates.
    outcome = await h.send(request(MessageType.DISCOVER))
    assert outcome.drop is DropReason.NOADDRESS
    assert len(set(prober.probed)) == 6


async def test_a_slow_probe_delays_only_its_own_client() -> None:
    prober = FakeProber(delays={POOL_FIRST: 5.0})
    h = harness(prober)
    slow = asyncio.create_task(h.send(request(MessageType.DISCOVER, 1)))
    for _ in range(5):
        await asyncio.sleep(0)
    assert prober.probed == [POOL_FIRST]  # client 1 is waiting on its probe
    # POOL_FIRST is held for client 1 while probed: client 2 gets the next address,
    # at once.
    fast = await asyncio.wait_for(h.send(request(MessageType.DISCOVER, 2)), 1.0)
    assert fast.reply is not None and fast.reply.message.yiaddr == SECOND
    assert not slow.done()
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow


async def test_mark_conflict_needs_the_address_offered_to_that_client() -> None:
    prober = FakeProber()
    h = harness(prober)
    await offered(h, 1)
    stranger = request(MessageType.DISCOVER, 2)
    assert await h.leases.mark_conflict(client_of(stranger), POOL_FIRST, h.now) is None
    assert h.leases.lease_at(POOL_FIRST) is None


async def test_a_conflict_record_survives_a_restart_and_ends_with_its_probation(
    tmp_path: Path,
) -> None:
    path = tmp_path / "leases.sqlite3"
    store = SqliteLeaseStore(path, commit_delay_ms=0)
    await store.open()
    h = Harness(conflict_config(), store=store, prober=FakeProber(in_use={POOL_FIRST}))
    assert await offered(h) == SECOND
    await store.close()

    reopened = SqliteLeaseStore(path)
    await reopened.open()
    try:
        h2 = Harness(conflict_config(), store=reopened, prober=FakeProber())
        await h2.leases.load()
        record = h2.leases.lease_at(POOL_FIRST)
        assert record is not None and record.state is LeaseState.DECLINED
        assert record.client_key == NO_OWNER
        assert await offered(h2, 3) == SECOND  # still on probation
        h2.now += 601  # decline_probation_time is 600
        await h2.leases.reclaim(h2.now)
        assert h2.leases.lease_at(POOL_FIRST) is None
        assert await reopened.get(POOL_FIRST) is None
    finally:
        await reopened.close()


async def test_a_conflict_hook_timing_out_with_drop_policy_drops_the_discover() -> None:
    h = harness(FakeProber(in_use={POOL_FIRST}))

    async def address_del(event: Any) -> None:
        await asyncio.sleep(5)

    dispatcher = CalloutDispatcher(
        HookTable(address_del=address_del), module="test",
        policies={"address_del": HookPolicy(deadline=0.05, on_timeout="drop")},
    )
    data = request(MessageType.DISCOVER).encode()
    hooks = PacketHooks(dispatcher, data, SERVER_ADDRESS)
    outcome = await h.protocol.handle(DhcpMessage.parse(data), context(), h.now, hooks)
    assert outcome.reply is None and outcome.drop is DropReason.TIMEOUT
    record = h.leases.lease_at(POOL_FIRST)  # the conflict is recorded all the same
    assert record is not None and record.state is LeaseState.DECLINED
    dispatcher.close()
