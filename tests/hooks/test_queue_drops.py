"""Packets dropped before new_packet (queue full, waited too long) still reach packet_drop.

The callout API says packet_drop is called with a reason whenever a packet is
dropped: NOMEM when the receive queue is full, TIMEOUT when a packet waited in
it too long. Such a packet never reached new_packet, so no PROCESSED follows.
"""

from __future__ import annotations

import asyncio

from dhcpd.app import DhcpServer
from dhcpd.hooks import DropReason
from dhcpd.hooks.dispatcher import CalloutDispatcher
from dhcpd.transport import Outgoing
from dhcpd.wire import MessageType
from tests.factories import BASE_CONFIG, config, context, request
from tests.hooks.test_hook_points import Recorder

SMALL_QUEUE = BASE_CONFIG.replace(
    "server:\n", "server:\n  queue_size: 2\n  max_queue_delay: 0.05\n", 1)


def server_with_recorder() -> tuple[DhcpServer, Recorder, list[Outgoing]]:
    server = DhcpServer(config(SMALL_QUEUE))
    recorder = Recorder()
    dispatcher = CalloutDispatcher(recorder.table(), module="test")
    server.callouts = dispatcher
    server.pipeline.callouts = dispatcher
    sent: list[Outgoing] = []
    server.pipeline.send = lambda out: sent.append(out) is None
    return server, recorder, sent


async def test_queue_full_and_stale_packets_are_reported_to_packet_drop() -> None:
    server, recorder, sent = server_with_recorder()
    await server.store.open()
    try:
        # Three DISCOVERs arrive in one read batch; the queue holds two.
        for n in range(3):
            server.intake.receive(request(MessageType.DISCOVER, n).encode(), context())
        await asyncio.sleep(0.1)  # the two queued ones wait past max_queue_delay
        server.scheduler.pump()
        for _ in range(10):
            await asyncio.sleep(0)
        reasons = [event.reason for event in recorder.named("packet_drop")]
        assert reasons == [DropReason.NOMEM, DropReason.TIMEOUT, DropReason.TIMEOUT]
        assert all(event.context is None for event in recorder.named("packet_drop"))
        # Dropped before processing: no new_packet, no PROCESSED, no reply.
        assert recorder.named("new_packet") == [] and sent == []
        assert server.stats.dropped[DropReason.NOMEM] == 1
        assert server.stats.dropped[DropReason.TIMEOUT] == 2
    finally:
        await server.store.close()


async def test_a_request_evicting_a_waiting_discover_reports_the_discover() -> None:
    server, recorder, _sent = server_with_recorder()
    await server.store.open()
    try:
        discovers = [request(MessageType.DISCOVER, n).encode() for n in range(2)]
        for data in discovers:
            server.intake.receive(data, context())
        server.intake.receive(request(MessageType.RELEASE, 9).encode(), context())
        for _ in range(10):
            await asyncio.sleep(0)
        dropped = recorder.named("packet_drop")
        assert [event.reason for event in dropped] == [DropReason.NOMEM]
        assert dropped[0].packet == discovers[0]  # the oldest DISCOVER made room
    finally:
        await server.store.close()


async def test_a_flood_of_queue_drops_is_reported_at_the_configured_rate_the_rest_counted(
) -> None:
    """Under a flood, packet_drop reports of queue drops are bounded
    (callouts.drop_reports_per_second), so they cannot starve the packets being
    served; the ones not reported are counted."""
    server = DhcpServer(config(SMALL_QUEUE + "callouts:\n  drop_reports_per_second: 5\n"))
    recorder = Recorder()
    dispatcher = CalloutDispatcher(recorder.table(), module="test")
    server.callouts = dispatcher
    server.pipeline.callouts = dispatcher
    server.pipeline.send = lambda out: True
    await server.store.open()
    try:
        for n in range(22):  # the queue holds 2: 20 evictions in one burst
            server.intake.receive(request(MessageType.DISCOVER, n).encode(), context())
        for _ in range(10):
            await asyncio.sleep(0)
        reported = [e.reason for e in recorder.named("packet_drop")]
        assert reported == [DropReason.NOMEM] * 5
        assert server.stats.dropped[DropReason.NOMEM] == 20  # every drop is still counted
        assert server.stats.drop_reports_lost == 15
    finally:
        await server.store.close()


async def test_reports_waiting_for_a_slow_hook_are_bounded_the_rest_counted() -> None:
    """A packet_drop hook that waits (as a plain or isolated one always does)
    holds at most 16 reports of queue drops at once, so they cannot pile up in
    front of the served packets' own hook calls."""
    from dhcpd.app import DROP_REPORTS_WAITING
    from dhcpd.hooks import HookTable, PacketDropEvent

    gate = asyncio.Event()
    entered: list[PacketDropEvent] = []

    async def slow_drop(event: PacketDropEvent) -> None:
        entered.append(event)
        await gate.wait()

    server = DhcpServer(config(SMALL_QUEUE))
    dispatcher = CalloutDispatcher(HookTable(packet_drop=slow_drop), module="test")
    server.callouts = dispatcher
    server.pipeline.callouts = dispatcher
    server.pipeline.send = lambda out: True
    await server.store.open()
    try:
        for n in range(2 + DROP_REPORTS_WAITING + 4):  # 20 evictions, well within the rate
            server.intake.receive(request(MessageType.DISCOVER, n).encode(), context())
        await asyncio.sleep(0)
        assert len(entered) == DROP_REPORTS_WAITING
        assert server.stats.drop_reports_lost == 4
        gate.set()
        for _ in range(10):
            await asyncio.sleep(0)
        assert server._drop_reports == 0  # every waiting report finished
    finally:
        await server.store.close()
