"""Each datagram the transport reads: parse, count, queue.

Called by the endpoint for every datagram (compiled, setup.py: it was the
last interpreted step of the packet path). What it cannot queue goes to the
server's `lost` handler (counted, and reported to the packet_drop hook), and
`overloaded` is told so that the server can warn, at most every few seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from dhcpd.logsetup import get_logger
from dhcpd.pipeline import TYPE_NAMES, PacketPipeline
from dhcpd.protocol import DropReason, ReceiveContext
from dhcpd.protocol.types import Received
from dhcpd.scheduler import PacketScheduler
from dhcpd.wire import DhcpMessage, MalformedPacket, MessageType

log = get_logger("dhcpd")


class PacketIntake:
    def __init__(
        self,
        pipeline: PacketPipeline,
        scheduler: PacketScheduler[Received],
        lost: Callable[[Received, DropReason], None],
        overloaded: Callable[[], None],
    ) -> None:
        self.pipeline = pipeline  # its callouts and paused state follow reloads and commands
        self.scheduler = scheduler
        self.lost = lost
        self.overloaded = overloaded

    def receive(self, data: bytes, ctx: ReceiveContext) -> None:
        pipeline = self.pipeline
        callouts = pipeline.callouts
        request: DhcpMessage | None
        kind: MessageType | None
        try:
            request = DhcpMessage.parse(data)
            kind = request.message_type
        except MalformedPacket as exc:
            if not callouts.has("new_packet"):
                pipeline.drop(DropReason.INVALID, f"malformed packet: {exc}", ctx)
                return
            request, kind = None, None  # new_packet may still replace it
        pipeline.stats.received[TYPE_NAMES[kind] if kind is not None else
                                "BOOTP" if request is not None else "INVALID"] += 1
        if pipeline.paused and not callouts.active:
            # Counted, not answered; logged at debug only (no flood while paused).
            # With callouts, paused packets still reach new_packet (the pipeline
            # drops them with PAUSED after it), as the callout API requires.
            pipeline.stats.dropped[DropReason.PAUSED] += 1
            log.debug("packet_dropped", reason="PAUSED", interface=ctx.interface,
                      source=str(ctx.source_address))
            return
        urgent = kind is not None and kind is not MessageType.DISCOVER
        lost = self.scheduler.submit(Received(data, request, ctx), urgent)
        if lost is not None:
            # Reading goes on, so that REQUESTs still reach the queue past the
            # waiting DISCOVERs.
            self.lost(lost, DropReason.NOMEM)
            self.overloaded()
