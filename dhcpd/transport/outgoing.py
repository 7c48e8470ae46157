"""What the transport sends: one record per datagram."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from dhcpd.records import native_record
from dhcpd.wire import HardwareAddress


@dataclass(frozen=True, slots=True, init=False)
class Outgoing:
    data: bytes
    address: IPv4Address
    port: int
    source: IPv4Address
    ifindex: int
    interface: str
    hw_address: HardwareAddress | None = None  # unicast to a client without an address

    def __init__(
        self,
        data: bytes,
        address: IPv4Address,
        port: int,
        source: IPv4Address,
        ifindex: int,
        interface: str,
        hw_address: HardwareAddress | None = None,
    ) -> None:
        self.data = data  # type: ignore[misc]
        self.address = address  # type: ignore[misc]
        self.port = port  # type: ignore[misc]
        self.source = source  # type: ignore[misc]
        self.ifindex = ifindex  # type: ignore[misc]
        self.interface = interface  # type: ignore[misc]
        self.hw_address = hw_address  # type: ignore[misc]


native_record(Outgoing)
