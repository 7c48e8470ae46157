"""Which subnet a packet belongs to."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address

from dhcpd.config import Subnet
from dhcpd.wire import RELAY_AGENT_INFO, SUBNET_SELECTION, DhcpMessage, MalformedPacket
from dhcpd.wire.addresses import address_int

from .types import ReceiveContext


def subnet_containing(subnets: Sequence[Subnet], address: IPv4Address) -> Subnet | None:
    for subnet in subnets:
        if subnet.contains(address):
            return subnet
    return None


def select_subnet(
    subnets: Sequence[Subnet], request: DhcpMessage, ctx: ReceiveContext
) -> Subnet | None:
    """Link selection (RFC 3527), subnet selection (RFC 3011), giaddr, then the interface.

    A malformed selector option is not trusted: it falls through to the next
    rule rather than sinking the packet.
    """
    try:
        relay_info = request.options.get(RELAY_AGENT_INFO)
        link = relay_info.link_selection if relay_info is not None else None
    except MalformedPacket:
        link = None
    if link is not None:
        return subnet_containing(subnets, link)
    try:
        selected = request.options.get(SUBNET_SELECTION)
    except MalformedPacket:
        selected = None
    if selected is not None:
        return subnet_containing(subnets, selected)
    if address_int(request.giaddr) != 0:
        found = subnet_containing(subnets, request.giaddr)
        if found is not None:
            return found
        return next((s for s in subnets if request.giaddr in s.relay_addresses), None)
    # A client with an address (unicast RENEWING, INFORM) may sit behind a
    # relay although this packet came straight to us: its address decides.
    if address_int(request.ciaddr) != 0:
        found = subnet_containing(subnets, request.ciaddr)
        if found is not None:
            return found
    # Directly attached: a configured interface wins, then our address on it.
    for subnet in subnets:
        if subnet.interface is not None and subnet.interface == ctx.interface:
            return subnet
    return subnet_containing(subnets, ctx.local_address)
