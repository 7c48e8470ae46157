"""The hooks of one packet's journey through the server.

The app makes one PacketHooks per received datagram (after new_packet) and
the protocol calls it at the documented points; it carries the request bytes,
the interface address and the callout's packet context, so callers only say
what happened. With no callout loaded, NO_PACKET_HOOKS does nothing, fast.
"""

from __future__ import annotations

from collections.abc import Awaitable
from ipaddress import IPv4Address
from typing import Any

from .api import (
    AddressDelEvent,
    AddressDelReason,
    AddressOfferEvent,
    ClientKind,
    DropReason,
    HandleOptionsEvent,
    OfferKind,
    PacketDropEvent,
    ServerOptions,
)
from .calling import SKIPPED, HookOutcome
from .dispatcher import NO_CALLOUTS, Dispatcher

ZERO = IPv4Address(0)


class PacketHooks:
    __slots__ = ("callers", "context", "dispatcher", "interface_address", "packet")

    def __init__(
        self,
        dispatcher: Dispatcher,
        packet: bytes,
        interface_address: IPv4Address,
        context: Any = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.callers = dispatcher.callers  # a slot is there while it may be called
        self.packet = packet
        self.interface_address = interface_address
        self.context = context

    async def address_offer(
        self, address: IPv4Address, renewal: bool, bootp: bool, lease_time: int
    ) -> bool:
        """DhcpAddressOfferHook, directly before the ACK; False: drop the reply."""
        call = self.callers.get("address_offer")
        if call is None:
            return True
        outcome = call(AddressOfferEvent(
            self.packet,
            OfferKind.OLD if renewal else OfferKind.NEW,
            ClientKind.BOOTP if bootp else ClientKind.DHCP,
            address,
            lease_time,
            self.interface_address,
            self.context,
        ))
        if not isinstance(outcome, HookOutcome):  # the hook waits
            outcome = await outcome
        return not outcome.drop

    async def address_del(self, reason: AddressDelReason, address: IPv4Address) -> bool:
        """DhcpAddressDelHook; False: a timeout whose policy drops the packet."""
        call = self.callers.get("address_del")
        if call is None:
            return True
        outcome = call(AddressDelEvent(
            self.packet, reason, address, self.interface_address, self.context,
        ))
        if not isinstance(outcome, HookOutcome):
            outcome = await outcome
        return not outcome.drop

    # The pipeline's own two hooks are plain methods: each returns the call's
    # outcome when the hook finished at once, else an awaitable of it (await it).

    def packet_drop(self, reason: DropReason) -> HookOutcome | Awaitable[HookOutcome]:
        """DhcpPktDropHook."""
        call = self.callers.get("packet_drop")
        if call is None:
            return SKIPPED
        return call(PacketDropEvent(self.packet, reason, self.interface_address, self.context))

    def handle_options(self) -> HookOutcome | Awaitable[HookOutcome]:
        """DhcpHandleOptionsHook with the server's parse; `drop`: drop the packet."""
        call = self.callers.get("handle_options")
        if call is None:
            return SKIPPED
        return call(HandleOptionsEvent(
            self.packet, ServerOptions(self.packet), self.interface_address, self.context,
        ))


NO_PACKET_HOOKS = PacketHooks(NO_CALLOUTS, b"", ZERO)
