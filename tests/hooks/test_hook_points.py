"""Every hook at its point in real exchanges, and the hazards contained.

The pipeline and protocol run in memory (no sockets): requests go in as bytes,
what would be sent is collected, and a recording callout notes every event.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from dhcpd.hooks import (
    AddressDelReason,
    ClientKind,
    DropReason,
    HookTable,
    NewPacketVerdict,
    OfferKind,
)
from dhcpd.hooks.dispatcher import CalloutDispatcher, HookPolicy
from dhcpd.leases import LeaseState
from dhcpd.pipeline import PacketPipeline
from dhcpd.protocol.types import Received
from dhcpd.stats import ServerStats
from dhcpd.transport import Outgoing
from dhcpd.wire import DhcpMessage, MessageType
from tests.factories import SERVER_ADDRESS, Harness, context, mac, request

ZERO = IPv4Address(0)


@dataclass
class Recorder:
    events: list[tuple[str, Any]] = field(default_factory=list)

    def named(self, slot: str) -> list[Any]:
        return [event for name, event in self.events if name == slot]

    def table(self, **overrides: Any) -> HookTable:
        def make(slot: str) -> Any:
            async def hook(event: Any) -> None:
                self.events.append((slot, event))
            return hook

        slots = {slot: make(slot) for slot in (
            "control", "new_packet", "packet_drop", "packet_send", "address_del",
            "address_offer", "handle_options", "delete_client")}
        slots.update(overrides)
        return HookTable(**slots)


class World:
    """Harness + pipeline + recorder; `sent` collects what would go on the wire."""

    def __init__(self, table: HookTable | None = None, **policies: HookPolicy) -> None:
        self.h = Harness()
        self.recorder = Recorder()
        self.dispatcher = CalloutDispatcher(
            table or self.recorder.table(), module="test", policies=policies
        )
        self.h.leases.on_delete = self._delete_client
        self.sent: list[Outgoing] = []
        self.stats = ServerStats()
        self.pipeline = PacketPipeline(self.h.protocol, self.stats, self._send, self.dispatcher)

    async def _delete_client(self, lease: Any) -> None:
        from dhcpd.hooks import DeleteClientEvent

        await self.dispatcher.call("delete_client", DeleteClientEvent(
            lease.address, lease.hw_address.address, lease.hw_address.htype, lease.client_id,
            ClientKind.DHCP))

    def _send(self, out: Outgoing) -> bool:
        self.sent.append(out)
        return True

    async def receive(self, message: DhcpMessage | bytes, **ctx: Any) -> DhcpMessage | None:
        data = message if isinstance(message, bytes) else message.encode()
        try:
            parsed: DhcpMessage | None = DhcpMessage.parse(data)
        except Exception:
            parsed = None
        before = len(self.sent)
        await self.pipeline.process(Received(data, parsed, context(**ctx)))
        # Exchanges may run concurrently: take the reply to this client.
        for out in reversed(self.sent[before:]):
            reply = DhcpMessage.parse(out.data)
            if parsed is None or reply.chaddr == parsed.chaddr:
                return reply
        # A callout may have replaced the packet (another chaddr): the newest reply.
        return DhcpMessage.parse(self.sent[-1].data) if len(self.sent) > before else None

    async def dora(self, n: int = 1) -> IPv4Address:
        offer = await self.receive(request(MessageType.DISCOVER, n))
        assert offer is not None
        ack = await self.receive(request(
            MessageType.REQUEST, n, requested=offer.yiaddr, server_id=SERVER_ADDRESS))
        assert ack is not None and ack.message_type is MessageType.ACK
        return ack.yiaddr


def processed(world: World) -> list[Any]:
    return [e for e in world.recorder.named("packet_drop") if e.reason is DropReason.PROCESSED]


async def test_dora_calls_each_hook_at_its_point() -> None:
    w = World()
    address = await w.dora(1)
    names = [name for name, _ in w.recorder.events]
    assert names == [
        "new_packet", "handle_options", "packet_send", "packet_drop",  # DISCOVER
        "new_packet", "handle_options", "address_offer", "packet_send", "packet_drop",  # REQ
    ]
    options = w.recorder.named("handle_options")[1].options
    assert options.message_type == MessageType.REQUEST
    assert options.requested_address == address
    assert options.server_identifier == SERVER_ADDRESS
    assert options.parameter_request_list == (1, 3, 6, 15)
    offer = w.recorder.named("address_offer")[0]
    assert (offer.address, offer.kind, offer.client, offer.lease_time) == (
        address, OfferKind.NEW, ClientKind.DHCP, 3600)
    sent = w.recorder.named("packet_send")
    assert DhcpMessage.parse(sent[0].response).message_type is MessageType.OFFER
    assert DhcpMessage.parse(sent[1].response).message_type is MessageType.ACK
    assert len(processed(w)) == 2


async def test_renewal_is_an_old_offer() -> None:
    w = World()
    address = await w.dora(1)
    ack = await w.receive(request(MessageType.REQUEST, 1, ciaddr=address), unicast=True)
    assert ack is not None and ack.message_type is MessageType.ACK
    kinds = [e.kind for e in w.recorder.named("address_offer")]
    assert kinds == [OfferKind.NEW, OfferKind.OLD]


async def test_new_packet_can_replace_the_packet_and_set_a_context() -> None:
    rec = Recorder()

    async def new_packet(event: Any) -> NewPacketVerdict:
        replaced = DhcpMessage.parse(event.packet)
        replaced.chaddr = bytes.fromhex("02aabbccddee").ljust(16, b"\0")
        return NewPacketVerdict(packet=replaced.encode(), context={"tag": 7})

    w = World(rec.table(new_packet=new_packet))
    w.recorder = rec
    offer = await w.receive(request(MessageType.DISCOVER, 1))
    assert offer is not None
    assert offer.chaddr[:6] == bytes.fromhex("02aabbccddee")
    assert all(e.context == {"tag": 7} for e in rec.named("packet_send") + rec.named("packet_drop"))
    assert rec.named("handle_options")[0].packet[28:34] == bytes.fromhex("02aabbccddee")


async def test_new_packet_can_stop_processing_then_only_processed_follows() -> None:
    rec = Recorder()

    async def new_packet(event: Any) -> NewPacketVerdict:
        return NewPacketVerdict(context="ctx", process=False)

    w = World(rec.table(new_packet=new_packet))
    w.recorder = rec
    assert await w.receive(request(MessageType.DISCOVER, 1)) is None
    assert [name for name, _ in rec.events] == ["packet_drop"]
    assert rec.named("packet_drop")[0].reason is DropReason.PROCESSED
    assert rec.named("packet_drop")[0].context == "ctx"


async def test_unparseable_replacement_is_dropped_invalid() -> None:
    rec = Recorder()

    async def new_packet(event: Any) -> NewPacketVerdict:
        return NewPacketVerdict(packet=b"garbage")

    w = World(rec.table(new_packet=new_packet))
    w.recorder = rec
    assert await w.receive(request(MessageType.DISCOVER, 1)) is None
    reasons = [e.reason for e in rec.named("packet_drop")]
    assert reasons == [DropReason.INVALID, DropReason.PROCESSED]


async def test_new_packet_can_repair_a_malformed_datagram() -> None:
    rec = Recorder()
    good = request(MessageType.DISCOVER, 5).encode()

    async def new_packet(event: Any) -> NewPacketVerdict | None:
        return NewPacketVerdict(packet=good) if event.packet == b"\x01broken" else None

    w = World(rec.table(new_packet=new_packet))
    w.recorder = rec
    offer = await w.receive(b"\x01broken")
    assert offer is not None and offer.message_type is MessageType.OFFER


async def test_packet_send_can_replace_the_response_and_garbage_is_ignored() -> None:
    async def add_option(event: Any) -> bytes:
        response = DhcpMessage.parse(event.response)
        response.options.set_raw(252, b"http://wpad.test/wpad.dat")
        return response.encode()

    w = World(Recorder().table(packet_send=add_option))
    offer = await w.receive(request(MessageType.DISCOVER, 1))
    assert offer is not None and offer.options.get_raw(252) == b"http://wpad.test/wpad.dat"

    async def garbage(event: Any) -> bytes:
        return b"not dhcp"

    w = World(Recorder().table(packet_send=garbage))
    offer = await w.receive(request(MessageType.DISCOVER, 1))
    assert offer is not None and offer.message_type is MessageType.OFFER


async def test_decline_release_and_nak_call_address_del() -> None:
    w = World()
    first = await w.dora(1)
    await w.receive(request(MessageType.DECLINE, 1, requested=first, server_id=SERVER_ADDRESS))
    second = await w.dora(2)
    await w.receive(request(MessageType.RELEASE, 2, ciaddr=second, server_id=SERVER_ADDRESS))
    nak = await w.receive(request(MessageType.REQUEST, 3, requested=IPv4Address("203.0.113.5")))
    assert nak is not None and nak.message_type is MessageType.NAK
    dels = [(e.reason, e.address) for e in w.recorder.named("address_del")]
    assert dels == [
        (AddressDelReason.DECLINE, first),
        (AddressDelReason.RELEASE, second),
        (AddressDelReason.NACKED, IPv4Address("203.0.113.5")),
    ]


async def test_every_drop_reports_its_reason_then_processed_exactly_once() -> None:
    w = World()
    await w.receive(request(MessageType.REQUEST, 1, requested=IPv4Address("192.0.2.100"),
                            server_id=IPv4Address("192.0.2.254")))
    w.pipeline.paused = True
    await w.receive(request(MessageType.DISCOVER, 2))
    reasons = [e.reason for e in w.recorder.named("packet_drop")]
    assert reasons == [DropReason.WRONG_SERVER, DropReason.PROCESSED,
                       DropReason.PAUSED, DropReason.PROCESSED]
    assert w.stats.dropped[DropReason.PAUSED] == 1


async def test_delete_client_is_called_before_a_record_is_deleted() -> None:
    w = World()
    address = await w.dora(1)
    await w.receive(request(MessageType.RELEASE, 1, ciaddr=address, server_id=SERVER_ADDRESS))
    await w.h.leases.reclaim(time.time() + 3600 + 1)  # the pipeline uses the real clock
    deleted = w.recorder.named("delete_client")
    assert [(e.address, e.hw_address) for e in deleted] == [
        (address, bytes.fromhex("020000000001"))]
    assert w.h.leases.lease_at(address) is None


async def test_slow_address_offer_holding_the_lease_lock_stalls_only_its_client() -> None:
    gate = asyncio.Event()

    async def address_offer(event: Any) -> None:
        if event.address == stuck_address:
            await asyncio.sleep(10)  # far past its deadline, holding the lease lock

    w = World(Recorder().table(address_offer=address_offer),
              address_offer=HookPolicy(deadline=0.3, on_timeout="drop"))
    offer = await w.receive(request(MessageType.DISCOVER, 1))
    assert offer is not None
    stuck_address = offer.yiaddr
    stuck = asyncio.create_task(w.receive(request(
        MessageType.REQUEST, 1, requested=stuck_address, server_id=SERVER_ADDRESS)))
    await asyncio.sleep(0.05)
    # Meanwhile other clients complete whole exchanges.
    others = await asyncio.wait_for(asyncio.gather(*(w.dora(n) for n in (2, 3, 4))), 0.25)
    assert len(set(others)) == 3 and not stuck.done()
    await stuck  # abandoned at its deadline: dropped, as configured
    acks_to_one = [m for m in (DhcpMessage.parse(o.data) for o in w.sent)
                   if m.chaddr[:6] == mac(1) and m.message_type is MessageType.ACK]
    assert acks_to_one == []
    gate.set()
    # The lease itself was committed before the hook ran: state is consistent,
    # and the lock is free again (the client's retry is answered).
    lease = w.h.leases.lease_at(stuck_address)
    assert lease is not None and lease.state is LeaseState.ACTIVE
    assert w.h.store.records[stuck_address] == lease  # type: ignore[attr-defined]
    assert len(w.h.leases._client_locks) == 0
    assert w.dispatcher.stats()["address_offer"]["timeouts"] == 1


async def test_a_hook_that_mutates_what_it_was_given_changes_nothing() -> None:
    async def address_offer(event: Any) -> None:
        object.__setattr__(event, "lease_time", 1)
        object.__setattr__(event, "address", IPv4Address("203.0.113.1"))

    async def handle_options(event: Any) -> None:
        object.__setattr__(event.options, "requested_address", IPv4Address("203.0.113.2"))

    w = World(Recorder().table(address_offer=address_offer, handle_options=handle_options))
    address = await w.dora(1)
    lease = w.h.leases.lease_at(address)
    assert lease is not None and lease.expires - lease.starts == 3600
    ack = DhcpMessage.parse(w.sent[-1].data)
    assert ack.yiaddr == address and ack.options.get_raw(51) == (3600).to_bytes(4)


async def test_a_raising_hook_costs_nothing_but_its_own_call() -> None:
    async def boom(event: Any) -> None:
        raise RuntimeError("callout bug")

    w = World(HookTable(new_packet=boom, address_offer=boom, packet_send=boom,
                        handle_options=boom, packet_drop=boom))
    assert await w.dora(1) in w.h.config.subnets[0].network
    stats = w.dispatcher.stats()
    assert stats["address_offer"]["failures"] == 1
    assert stats["new_packet"]["failures"] == 2


async def test_inform_gets_packet_hooks_but_no_address_offer() -> None:
    w = World()
    ack = await w.receive(request(MessageType.INFORM, 1, ciaddr=IPv4Address("192.0.2.77")),
                          unicast=True)
    assert ack is not None and ack.message_type is MessageType.ACK
    names = [name for name, _ in w.recorder.events]
    assert names == ["new_packet", "handle_options", "packet_send", "packet_drop"]
    assert w.recorder.named("handle_options")[0].options.message_type == MessageType.INFORM


async def test_operator_delete_calls_delete_client_first() -> None:
    w = World()
    address = await w.dora(1)
    seen_while_present: list[bool] = []
    original = w.h.leases.on_delete

    async def check_then_record(lease: Any) -> None:
        seen_while_present.append(w.h.leases.lease_at(lease.address) is not None)
        assert original is not None
        await original(lease)

    w.h.leases.on_delete = check_then_record
    deleted = await w.h.leases.delete_lease(address, time.time())
    assert deleted is not None and deleted.address == address
    assert [e.address for e in w.recorder.named("delete_client")] == [address]
    assert seen_while_present == [True]  # called directly before the record goes
    assert w.h.leases.lease_at(address) is None


async def test_an_expired_lease_is_deleted_with_delete_client_after_the_hold_time() -> None:
    w = World()
    address = await w.dora(1)
    now = time.time()
    await w.h.leases.reclaim(now + 3601)  # expires: the record stays, no hook yet
    expired = w.h.leases.lease_at(address)
    assert expired is not None and expired.state is LeaseState.EXPIRED
    assert w.recorder.named("delete_client") == []
    await w.h.leases.reclaim(now + 3601 + 3601)  # past hold_reclaimed_time: deleted
    assert [e.address for e in w.recorder.named("delete_client")] == [address]


async def test_packets_with_callouts_run_without_a_task() -> None:
    # The scheduler steps packets from callbacks (no asyncio Task); the deadlines,
    # the lease lock around address_offer and exactly one PROCESSED still hold.
    from dhcpd.scheduler import PacketScheduler
    from dhcpd.workqueue import WorkQueue

    tasks: list[object] = []

    async def address_offer(event: Any) -> None:
        tasks.append(asyncio.current_task())
        await asyncio.sleep(0.01)  # waits, under the lease lock
        tasks.append(asyncio.current_task())

    async def handle_options(event: Any) -> None:
        tasks.append(asyncio.current_task())
        if event.packet[28:34] == mac(2):
            await asyncio.sleep(5)  # past its deadline: dropped, as configured

    recorder = Recorder()
    w = World(recorder.table(address_offer=address_offer, handle_options=handle_options),
              handle_options=HookPolicy(deadline=0.05, on_timeout="drop"))
    errors: list[Exception] = []
    scheduler = PacketScheduler(w.pipeline.process, 8, WorkQueue(16, 60),
                                lambda _, exc: errors.append(exc))
    loop = asyncio.get_running_loop()

    async def exchange(*messages: DhcpMessage) -> None:
        for message in messages:
            parsed = DhcpMessage.parse(message.encode())
            scheduler.submit(Received(message.encode(), parsed, context()), urgent=True)
        loop.call_soon(scheduler.pump)  # as the transport does: from a reader callback
        await asyncio.wait_for(scheduler.join(), 2)

    await exchange(request(MessageType.DISCOVER, 1), request(MessageType.DISCOVER, 2))
    offer = DhcpMessage.parse(w.sent[-1].data)
    assert len(w.sent) == 1 and offer.chaddr[:6] == mac(1)  # client 2: timed out
    await exchange(request(MessageType.REQUEST, 1, requested=offer.yiaddr,
                           server_id=SERVER_ADDRESS))
    ack = DhcpMessage.parse(w.sent[-1].data)
    assert ack.message_type is MessageType.ACK and ack.yiaddr == offer.yiaddr
    assert not errors and tasks and set(tasks) == {None}
    reasons = [event.reason for event in recorder.named("packet_drop")]
    assert reasons.count(DropReason.PROCESSED) == 3 and reasons.count(DropReason.TIMEOUT) == 1
    assert len(w.h.leases._client_locks) == 0
