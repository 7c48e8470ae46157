"""What the protocol logic takes in and hands back: no sockets, only values.

DropReason (Microsoft's reason codes) lives in the public callout API.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from dhcpd.hooks.api import DropReason as DropReason  # re-exported for the protocol
from dhcpd.records import fast_init
from dhcpd.wire import DhcpMessage, HardwareAddress


@fast_init  # built per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class ReceiveContext:
    """Where a datagram came from and which of our interfaces took it."""

    interface: str
    ifindex: int
    local_address: IPv4Address  # our address on that interface (IP_PKTINFO ipi_spec_dst)
    source_address: IPv4Address
    source_port: int
    unicast: bool = False  # sent to our own address rather than broadcast


@fast_init  # built per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class Destination:
    """Where a reply goes (RFC 2131 section 4.1)."""

    address: IPv4Address
    port: int
    broadcast: bool = False
    # Set when the client has no address yet and we unicast to yiaddr: the
    # transport must reach it at this hardware address (ARP entry or raw frame).
    hw_address: HardwareAddress | None = None


@fast_init  # built per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class Reply:
    message: DhcpMessage
    destination: Destination
    source_address: IPv4Address
    max_size: int


@fast_init  # built per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of handling one packet: a reply, or the reason there is none."""

    reply: Reply | None = None
    drop: DropReason | None = None
    detail: str = ""

    @classmethod
    def dropped(cls, reason: DropReason, detail: str) -> Outcome:
        return cls(None, reason, detail)


@fast_init  # built per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class Received:
    data: bytes
    request: DhcpMessage | None  # None: did not parse (kept only for new_packet)
    ctx: ReceiveContext
