"""The events of the hooks called for every packet, one frozen record per call.

Compiled with the packet path (setup.py): the server builds up to nine of
these per DORA when a callout fills every slot, and a native record costs
a tenth of an interpreted one (see dhcpd/records.py, native_record). Each
class keeps a written __init__ for that reason; its parameters are its
fields, in order. Re-exported by dhcpd.hooks.api, where callout modules
import them from; what each one means is in docs/callouts.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from dhcpd.records import native_record

from .codes import AddressDelReason, ClientKind, DropReason, OfferKind
from .server_options import ServerOptions

# The stores below are the only ones: the records are frozen (the dataclass's
# __setattr__ refuses any other), hence `type: ignore[misc]` on each.


@dataclass(frozen=True, slots=True, init=False)
class NewPacketEvent:
    """A datagram as received, before any processing (DhcpNewPktHook)."""

    packet: bytes
    interface_address: IPv4Address  # our address on the interface it arrived on
    interface: str
    source_address: IPv4Address
    source_port: int

    def __init__(self, packet: bytes, interface_address: IPv4Address, interface: str,
                 source_address: IPv4Address, source_port: int) -> None:
        self.packet = packet  # type: ignore[misc]
        self.interface_address = interface_address  # type: ignore[misc]
        self.interface = interface  # type: ignore[misc]
        self.source_address = source_address  # type: ignore[misc]
        self.source_port = source_port  # type: ignore[misc]


native_record(NewPacketEvent)


@dataclass(frozen=True, slots=True, init=False)
class PacketDropEvent:
    """A packet that gets no reply, and why; PROCESSED ends every packet (DhcpPktDropHook)."""

    packet: bytes
    reason: DropReason
    interface_address: IPv4Address
    context: Any

    def __init__(self, packet: bytes, reason: DropReason, interface_address: IPv4Address,
                 context: Any) -> None:
        self.packet = packet  # type: ignore[misc]
        self.reason = reason  # type: ignore[misc]
        self.interface_address = interface_address  # type: ignore[misc]
        self.context = context  # type: ignore[misc]


native_record(PacketDropEvent)


@dataclass(frozen=True, slots=True, init=False)
class PacketSendEvent:
    """A response about to be sent; the hook may hand back replacement bytes."""

    response: bytes
    request: bytes
    destination: IPv4Address
    destination_port: int
    interface_address: IPv4Address
    context: Any

    def __init__(self, response: bytes, request: bytes, destination: IPv4Address,
                 destination_port: int, interface_address: IPv4Address, context: Any) -> None:
        self.response = response  # type: ignore[misc]
        self.request = request  # type: ignore[misc]
        self.destination = destination  # type: ignore[misc]
        self.destination_port = destination_port  # type: ignore[misc]
        self.interface_address = interface_address  # type: ignore[misc]
        self.context = context  # type: ignore[misc]


native_record(PacketSendEvent)


@dataclass(frozen=True, slots=True, init=False)
class AddressDelEvent:
    """An address taken back: conflict, decline, release, NAK (DhcpAddressDelHook)."""

    packet: bytes  # the request that caused it
    reason: AddressDelReason
    address: IPv4Address
    interface_address: IPv4Address
    context: Any

    def __init__(self, packet: bytes, reason: AddressDelReason, address: IPv4Address,
                 interface_address: IPv4Address, context: Any) -> None:
        self.packet = packet  # type: ignore[misc]
        self.reason = reason  # type: ignore[misc]
        self.address = address  # type: ignore[misc]
        self.interface_address = interface_address  # type: ignore[misc]
        self.context = context  # type: ignore[misc]


native_record(AddressDelEvent)


@dataclass(frozen=True, slots=True, init=False)
class AddressOfferEvent:
    """Directly before a DHCPACK or BOOTP reply, with the lease committed."""

    packet: bytes
    kind: OfferKind
    client: ClientKind
    address: IPv4Address
    lease_time: int  # seconds; INFINITE_LEASE for an infinite lease
    interface_address: IPv4Address
    context: Any

    def __init__(self, packet: bytes, kind: OfferKind, client: ClientKind,
                 address: IPv4Address, lease_time: int, interface_address: IPv4Address,
                 context: Any) -> None:
        self.packet = packet  # type: ignore[misc]
        self.kind = kind  # type: ignore[misc]
        self.client = client  # type: ignore[misc]
        self.address = address  # type: ignore[misc]
        self.lease_time = lease_time  # type: ignore[misc]
        self.interface_address = interface_address  # type: ignore[misc]
        self.context = context  # type: ignore[misc]


native_record(AddressOfferEvent)


@dataclass(frozen=True, slots=True, init=False)
class HandleOptionsEvent:
    """The server's parse of the request's options (DhcpHandleOptionsHook)."""

    packet: bytes
    options: ServerOptions
    interface_address: IPv4Address
    context: Any

    def __init__(self, packet: bytes, options: ServerOptions, interface_address: IPv4Address,
                 context: Any) -> None:
        self.packet = packet  # type: ignore[misc]
        self.options = options  # type: ignore[misc]
        self.interface_address = interface_address  # type: ignore[misc]
        self.context = context  # type: ignore[misc]


native_record(HandleOptionsEvent)
