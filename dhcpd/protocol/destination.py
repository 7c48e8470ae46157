"""Where a reply goes: RFC 2131 section 4.1, as a pure function."""

from __future__ import annotations

from ipaddress import IPv4Address

from dhcpd.wire import DhcpMessage, MessageType
from dhcpd.wire.addresses import address_int

from .types import Destination

BROADCAST = IPv4Address("255.255.255.255")
ETHERNET = 1


def reply_destination(
    request: DhcpMessage,
    reply_type: MessageType | None,
    yiaddr: IPv4Address,
    server_port: int,
    client_port: int,
) -> Destination:
    """RFC 2131 section 4.1, 'the server ... sends any return messages to':"""
    # Relayed: back to the relay agent on the server port (the relay forwards it).
    if address_int(request.giaddr) != 0:
        return Destination(request.giaddr, server_port)
    # A DHCPNAK to a directly attached client is always broadcast.
    if reply_type is MessageType.NAK:
        return Destination(BROADCAST, client_port, broadcast=True)
    # A client that has an address (RENEWING, REBINDING, INFORM) gets it there.
    if address_int(request.ciaddr) != 0:
        return Destination(request.ciaddr, client_port)
    # The client cannot receive unicast before it is configured: it said so.
    if request.broadcast_flag or address_int(yiaddr) == 0:
        return Destination(BROADCAST, client_port, broadcast=True)
    # Otherwise unicast to yiaddr at chaddr, which needs the link-layer address.
    if request.htype == ETHERNET and request.hlen == 6:
        return Destination(yiaddr, client_port, hw_address=request.hw_address)
    return Destination(BROADCAST, client_port, broadcast=True)
