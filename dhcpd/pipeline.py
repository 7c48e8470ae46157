"""One received datagram, from the queue to the wire, with the callouts at their points.

Without callouts the path is: protocol decision, encode, send. With callouts
(Microsoft's order): new_packet (may replace the packet, set its context, or
stop processing), handle_options, the protocol (which runs address_offer and
address_del under the lease manager's locks), packet_send (may replace the
response), packet_drop with a reason for every drop, and finally packet_drop
with PROCESSED for every packet that reached new_packet.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final

from dhcpd.hooks.api import DropReason, NewPacketEvent, NewPacketVerdict, PacketSendEvent
from dhcpd.hooks.calling import OK_NONE, HookOutcome
from dhcpd.hooks.dispatcher import Dispatcher
from dhcpd.hooks.session import PacketHooks
from dhcpd.logsetup import PACKET_CONTEXT, get_logger
from dhcpd.protocol import DhcpProtocol, Outcome, ReceiveContext, Reply
from dhcpd.protocol.types import Received
from dhcpd.stats import ServerStats
from dhcpd.transport import Outgoing
from dhcpd.wire import DhcpMessage, MalformedPacket, MessageType

log = get_logger("dhcpd")
TYPE_NAMES = {kind: kind.name for kind in MessageType}  # Enum.name is a slow property
# Read for every packet with a callout: a C static, not an attribute lookup on the enum.
PROCESSED: Final = DropReason.PROCESSED
_PACKET_CONTEXT: Final = PACKET_CONTEXT


Send = Callable[[Outgoing], bool]


class PacketPipeline:
    def __init__(
        self,
        protocol: DhcpProtocol,
        stats: ServerStats,
        send: Send,
        callouts: Dispatcher,
    ) -> None:
        self.protocol = protocol
        self.stats = stats
        self.send = send
        self.callouts = callouts
        self.paused = False

    async def process(self, item: Received) -> None:
        if self.callouts.active:
            await self._with_callouts(item)
            return
        request, ctx = item.request, item.ctx
        if request is None:  # only queued for new_packet, which is gone since
            self.drop(DropReason.INVALID, "malformed packet", ctx)
            return
        if self.paused:
            self.drop(DropReason.PAUSED, "server paused", ctx)
            return
        self._bind_log_context(request, ctx)
        outcome = await self.protocol.handle(request, ctx, time.time())
        if outcome.reply is None:
            self._dropped(outcome, ctx)
            return
        self._send(request, ctx, outcome.reply, outcome.reply.message.encode_with_report(
            outcome.reply.max_size))

    async def _with_callouts(self, item: Received) -> None:
        # Each hook's call is the outcome itself when the hook finished at once (its
        # common case), else an awaitable of it; the slow paths are in the helpers.
        ctx = item.ctx
        # One dispatcher for the whole packet, even if a reload swaps it meanwhile.
        # (No log context to clear first: each packet runs in a fresh copy of the
        # scheduler's context, see dhcpd/scheduler.py.)
        hooks = PacketHooks(self.callouts, item.data, ctx.local_address)
        callers = hooks.callers
        try:
            request = item.request
            call = callers.get("new_packet")
            called = OK_NONE if call is None else call(NewPacketEvent(
                item.data, ctx.local_address, ctx.interface, ctx.source_address, ctx.source_port,
            ))
            if called is not OK_NONE or request is None:
                # It waits, failed, timed out or handed back a verdict; or no parse.
                request = await self._new_packet(item, hooks, called)
                if request is None:
                    return
            self._bind_log_context(request, ctx)
            if self.paused:
                await self._drop_with_hook(hooks, DropReason.PAUSED, "server paused", ctx)
                return
            called = hooks.handle_options()
            if not isinstance(called, HookOutcome):
                called = await called
            if called.drop:
                await self._drop_with_hook(hooks, DropReason.TIMEOUT,
                                           "handle_options callout timed out", ctx)
                return
            outcome = await self.protocol.handle(request, ctx, time.time(), hooks)
            reply = outcome.reply
            if reply is None:
                if outcome.drop is not None and outcome.drop is not PROCESSED:
                    called = hooks.packet_drop(outcome.drop)
                    if not isinstance(called, HookOutcome):
                        await called
                self._dropped(outcome, ctx)
                return
            payload, omitted = reply.message.encode_with_report(reply.max_size)
            call = callers.get("packet_send")
            if call is not None:
                destination = reply.destination
                called = call(PacketSendEvent(
                    payload, hooks.packet, destination.address, destination.port,
                    hooks.interface_address, hooks.context,
                ))
                if called is not OK_NONE:
                    final = await self._packet_send(called, payload)
                    if final is None:
                        await self._drop_with_hook(hooks, DropReason.TIMEOUT,
                                                   "packet_send callout timed out", ctx)
                        return
                    payload = final
            self._send(request, ctx, reply, (payload, omitted))
        finally:
            # Exactly once per packet that reached new_packet: free its context.
            called = hooks.packet_drop(PROCESSED)
            if not isinstance(called, HookOutcome):
                await called

    async def _new_packet(
        self, item: Received, hooks: PacketHooks, called: HookOutcome | Awaitable[HookOutcome]
    ) -> DhcpMessage | None:
        """What new_packet's call says, and the packet to process (None: nothing more
        to do)."""
        ctx = item.ctx
        request = item.request
        outcome = called if isinstance(called, HookOutcome) else await called
        if outcome.drop:
            await self._drop_with_hook(hooks, DropReason.TIMEOUT,
                                       "new_packet callout timed out", ctx)
            return None
        verdict = outcome.value if isinstance(outcome.value, NewPacketVerdict) else None
        if verdict is not None:
            hooks.context = verdict.context
            if verdict.packet is not None:
                hooks.packet = bytes(verdict.packet)
                try:
                    request = DhcpMessage.parse(hooks.packet)
                except MalformedPacket as exc:
                    await self._drop_with_hook(
                        hooks, DropReason.INVALID, f"replacement packet: {exc}", ctx)
                    return None
            if not verdict.process:
                # ProcessIt = FALSE: only PROCESSED follows for the callout;
                # we count it as a drop by policy.
                self.drop(DropReason.UNAUTH, "new_packet callout: do not process", ctx)
                return None
        if request is None:
            await self._drop_with_hook(hooks, DropReason.INVALID, "malformed packet", ctx)
        return request

    @staticmethod
    async def _packet_send(called: HookOutcome | Awaitable[HookOutcome], payload: bytes
                           ) -> bytes | None:
        """What packet_send's call says: the response to send (a replacement, or
        `payload`); None: drop it (a timeout so configured)."""
        outcome = called if isinstance(called, HookOutcome) else await called
        if outcome.drop:
            return None
        if outcome.ok and outcome.value is not None:
            replacement = bytes(outcome.value)
            try:
                DhcpMessage.parse(replacement)
            except MalformedPacket as exc:
                log.warning("callout_returned_garbage", hook="packet_send",
                            error=f"replacement does not parse: {exc}")
                return payload
            return replacement
        return payload

    def _send(self, request: DhcpMessage, ctx: ReceiveContext, reply: Reply,
              encoded: tuple[bytes, tuple[int, ...]]) -> None:
        payload, omitted = encoded
        if omitted:
            log.warning("options_omitted", codes=list(omitted))
        sent = self.send(Outgoing(
            data=payload,
            address=reply.destination.address,
            port=reply.destination.port,
            source=reply.source_address,
            ifindex=ctx.ifindex,
            interface=ctx.interface,
            hw_address=reply.destination.hw_address,
        ))
        if sent:
            reply_type = reply.message.message_type
            self.stats.sent[TYPE_NAMES[reply_type] if reply_type is not None else "BOOTREPLY"] += 1

    def _dropped(self, outcome: Outcome, ctx: ReceiveContext) -> None:
        if outcome.drop is not None and outcome.drop is not PROCESSED:
            self.drop(outcome.drop, outcome.detail, ctx)

    async def _drop_with_hook(
        self, hooks: PacketHooks, reason: DropReason, detail: str, ctx: ReceiveContext
    ) -> None:
        called = hooks.packet_drop(reason)
        if not isinstance(called, HookOutcome):
            await called
        self.drop(reason, detail, ctx)

    def drop(self, reason: DropReason, detail: str, ctx: ReceiveContext) -> None:
        self.stats.dropped[reason] += 1
        # While paused every packet is dropped: no line per packet above debug.
        emit = log.debug if reason is DropReason.PAUSED else log.info
        emit("packet_dropped", reason=reason.name, detail=detail,
             interface=ctx.interface, source=str(ctx.source_address))

    @staticmethod
    def _bind_log_context(request: DhcpMessage, ctx: ReceiveContext) -> None:
        # Every log line of this exchange names its client, xid and interface
        # (formatted only if a line is written; logsetup.set_packet_context's work,
        # without an interpreted call per packet).
        _PACKET_CONTEXT.set((request.xid, request.hw_address, ctx.interface))
