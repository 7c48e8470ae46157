"""DHCPINFORM: options for a client that configured its address itself (RFC 2131 4.3.5)."""

from __future__ import annotations

from ipaddress import IPv4Address

from dhcpd.wire import MessageType

from .exchange import Exchange
from .reply import build_reply
from .types import DropReason, Outcome

ZERO = IPv4Address(0)


async def handle_inform(ex: Exchange) -> Outcome:
    if ex.subnet is None:
        return Outcome.dropped(DropReason.NO_SUBNETS, "INFORM from a network we do not serve")
    # No lease time, no yiaddr; the reply goes to ciaddr (table 3, section 4.3.5).
    reservation = ex.env.leases.reservation_for(ex.subnet, ex.client)
    return Outcome(build_reply(ex, MessageType.ACK, ZERO, None, reservation, keep_ciaddr=True))
