"""What the transport sends, and how it fails: kept out of udp.py, which setup.py
compiles (a per-packet record must stay interpreted: dhcpd/records.py; mypyc
cannot compile a subclass of OSError)."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from dhcpd.records import fast_init
from dhcpd.wire import HardwareAddress


@fast_init  # built per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class Outgoing:
    data: bytes
    address: IPv4Address
    port: int
    source: IPv4Address
    ifindex: int
    interface: str
    hw_address: HardwareAddress | None = None  # unicast to a client without an address


class TransportError(OSError):
    pass
