"""The hooks of one packet's journey through the server.

The app makes one PacketHooks per received datagram (after new_packet) and
the protocol calls it at the documented points; it carries the request bytes,
the interface address and the callout's packet context, so callers only say
what happened. With no callout loaded, NO_PACKET_HOOKS does nothing, fast.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from dhcpd.wire import (
    DhcpMessage,
)

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
from .dispatcher import NO_CALLOUTS, Dispatcher

ZERO = IPv4Address(0)


class PacketHooks:
    __slots__ = ("context", "dispatcher", "interface_address", "packet")

    def __init__(
        self,
        dispatcher: Dispatcher,
        packet: bytes,
        interface_address: IPv4Address,
        context: Any = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.packet = packet
        self.interface_address = interface_address
        self.context = context

    async def address_offer(
        self, address: IPv4Address, renewal: bool, bootp: bool, lease_time: int
    ) -> bool:
        """DhcpAddressOfferHook, directly before the ACK; False: drop the reply."""
        if not self.dispatcher.has("address_offer"):
            return True
        outcome = await self.dispatcher.call("address_offer", AddressOfferEvent(
            packet=self.packet,
            kind=OfferKind.OLD if renewal else OfferKind.NEW,
            client=ClientKind.BOOTP if bootp else ClientKind.DHCP,
            address=address,
            lease_time=lease_time,
            interface_address=self.interface_address,
            context=self.context,
        ))
        return not outcome.drop

    async def address_del(self, reason: AddressDelReason, address: IPv4Address) -> bool:
        """DhcpAddressDelHook; False: a timeout whose policy drops the packet."""
        if not self.dispatcher.has("address_del"):
            return True
        outcome = await self.dispatcher.call("address_del", AddressDelEvent(
            packet=self.packet, reason=reason, address=address,
            interface_address=self.interface_address, context=self.context,
        ))
        return not outcome.drop

    async def packet_drop(self, reason: DropReason) -> None:
        if self.dispatcher.has("packet_drop"):
            await self.dispatcher.call("packet_drop", PacketDropEvent(
                packet=self.packet, reason=reason,
                interface_address=self.interface_address, context=self.context,
            ))

    async def handle_options(self, request: DhcpMessage) -> bool:
        """DhcpHandleOptionsHook with the server's parse; False: drop the packet."""
        if not self.dispatcher.has("handle_options"):
            return True
        outcome = await self.dispatcher.call("handle_options", HandleOptionsEvent(
            packet=self.packet, options=server_options(request),
            interface_address=self.interface_address, context=self.context,
        ))
        return not outcome.drop


NO_PACKET_HOOKS = PacketHooks(NO_CALLOUTS, b"", ZERO)


def server_options(request: DhcpMessage) -> ServerOptions:
    """The fields of Microsoft's DHCP_SERVER_OPTIONS, decoded when a hook reads them."""
    return ServerOptions(request.options)
