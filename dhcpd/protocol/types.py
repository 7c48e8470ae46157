"""What the protocol logic takes in and hands back: no sockets, only values.

DropReason (Microsoft's reason codes) lives in the public callout API.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from dhcpd.hooks.api import DropReason as DropReason  # re-exported for the protocol
from dhcpd.records import native_record
from dhcpd.wire import DhcpMessage, HardwareAddress


@dataclass(frozen=True, slots=True, init=False)
class ReceiveContext:
    """Where a datagram came from and which of our interfaces took it."""

    interface: str
    ifindex: int
    local_address: IPv4Address  # our address on that interface (IP_PKTINFO ipi_spec_dst)
    source_address: IPv4Address
    source_port: int
    unicast: bool = False  # sent to our own address rather than broadcast

    def __init__(
        self,
        interface: str,
        ifindex: int,
        local_address: IPv4Address,
        source_address: IPv4Address,
        source_port: int,
        unicast: bool = False,
    ) -> None:
        self.interface = interface  # type: ignore[misc]
        self.ifindex = ifindex  # type: ignore[misc]
        self.local_address = local_address  # type: ignore[misc]
        self.source_address = source_address  # type: ignore[misc]
        self.source_port = source_port  # type: ignore[misc]
        self.unicast = unicast  # type: ignore[misc]


native_record(ReceiveContext)


@dataclass(frozen=True, slots=True, init=False)
class Destination:
    """Where a reply goes (RFC 2131 section 4.1)."""

    address: IPv4Address
    port: int
    broadcast: bool = False
    # Set when the client has no address yet and we unicast to yiaddr: the
    # transport must reach it at this hardware address (ARP entry or raw frame).
    hw_address: HardwareAddress | None = None

    def __init__(
        self,
        address: IPv4Address,
        port: int,
        broadcast: bool = False,
        hw_address: HardwareAddress | None = None,
    ) -> None:
        self.address = address  # type: ignore[misc]
        self.port = port  # type: ignore[misc]
        self.broadcast = broadcast  # type: ignore[misc]
        self.hw_address = hw_address  # type: ignore[misc]


native_record(Destination)


@dataclass(frozen=True, slots=True, init=False)
class Reply:
    message: DhcpMessage
    destination: Destination
    source_address: IPv4Address
    max_size: int

    def __init__(
        self,
        message: DhcpMessage,
        destination: Destination,
        source_address: IPv4Address,
        max_size: int,
    ) -> None:
        self.message = message  # type: ignore[misc]
        self.destination = destination  # type: ignore[misc]
        self.source_address = source_address  # type: ignore[misc]
        self.max_size = max_size  # type: ignore[misc]


native_record(Reply)


@dataclass(frozen=True, slots=True, init=False)
class Outcome:
    """The result of handling one packet: a reply, or the reason there is none."""

    reply: Reply | None = None
    drop: DropReason | None = None
    detail: str = ""

    def __init__(
        self,
        reply: Reply | None = None,
        drop: DropReason | None = None,
        detail: str = "",
    ) -> None:
        self.reply = reply  # type: ignore[misc]
        self.drop = drop  # type: ignore[misc]
        self.detail = detail  # type: ignore[misc]

    @classmethod
    def dropped(cls, reason: DropReason, detail: str) -> Outcome:
        return cls(None, reason, detail)


native_record(Outcome)


@dataclass(frozen=True, slots=True, init=False)
class Received:
    data: bytes
    request: DhcpMessage | None  # None: did not parse (kept only for new_packet)
    ctx: ReceiveContext

    def __init__(self, data: bytes, request: DhcpMessage | None, ctx: ReceiveContext) -> None:
        self.data = data  # type: ignore[misc]
        self.request = request  # type: ignore[misc]
        self.ctx = ctx  # type: ignore[misc]


native_record(Received)
