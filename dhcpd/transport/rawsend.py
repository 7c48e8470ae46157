"""Reaching a client that has no address yet, without an ARP entry: a raw frame.

RFC 2131 section 4.1: when the broadcast bit is clear and ciaddr is zero, the
server unicasts to yiaddr at chaddr. The usual way (arp.py) installs a kernel
ARP entry first, which needs CAP_NET_ADMIN; a container often lacks it (Docker
grants CAP_NET_RAW by default, not CAP_NET_ADMIN). A packet socket needs only
CAP_NET_RAW: we build the IPv4 and UDP headers and the kernel adds the link
header for the client's hardware address. Where this fails too, the caller
falls back to broadcast.
"""

from __future__ import annotations

import socket
import struct
from ipaddress import IPv4Address

from dhcpd.logsetup import get_logger
from dhcpd.wire import HardwareAddress

from .checksum import internet_checksum

log = get_logger("dhcpd.transport")

ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
_IP_HEADER = struct.Struct("!BBHHHBBH4s4s")  # RFC 791 section 3.1, no options
_UDP_HEADER = struct.Struct("!HHHH")  # RFC 768
_TTL = 64
_PROTO_UDP = 17


def ip_udp_datagram(payload: bytes, source: IPv4Address, source_port: int,
                    destination: IPv4Address, destination_port: int) -> bytes:
    """An IPv4 packet (RFC 791) carrying one UDP datagram (RFC 768), checksums filled."""
    udp_length = _UDP_HEADER.size + len(payload)
    pseudo = source.packed + destination.packed + struct.pack("!BBH", 0, _PROTO_UDP, udp_length)
    udp = _UDP_HEADER.pack(source_port, destination_port, udp_length, 0) + payload
    udp_sum = internet_checksum(pseudo + udp) or 0xFFFF  # RFC 768: a computed 0 is sent as all ones
    udp = udp[:6] + struct.pack("!H", udp_sum) + udp[8:]
    header = _IP_HEADER.pack(0x45, 0, _IP_HEADER.size + udp_length, 0, 0, _TTL, _PROTO_UDP, 0,
                             source.packed, destination.packed)
    header = header[:10] + struct.pack("!H", internet_checksum(header)) + header[12:]
    return header + udp


class RawSender:
    """One packet socket for all interfaces, opened at start (before privileges are
    dropped); it receives nothing (protocol 0), it only sends."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self.failures = 0

    def open(self) -> None:
        try:
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
        except OSError as exc:
            log.info("raw_send_unavailable", error=exc.strerror,
                     effect="unicast to clients without an address needs an ARP entry")

    @property
    def available(self) -> bool:
        return self._sock is not None

    def send(self, payload: bytes, source: IPv4Address, source_port: int,
             destination: IPv4Address, destination_port: int, hw: HardwareAddress,
             interface: str) -> bool:
        """Send to `destination` at `hw` on `interface`; False when not possible here."""
        if self._sock is None or hw.htype != ARPHRD_ETHER or len(hw.address) != 6:
            return False
        packet = ip_udp_datagram(payload, source, source_port, destination, destination_port)
        try:
            self._sock.sendto(packet, (interface, ETH_P_IP, 0, 0, hw.address))
            return True
        except OSError as exc:
            self.failures += 1
            if self.failures == 1:
                log.warning("raw_send_failed", address=str(destination), interface=interface,
                            error=exc.strerror, fallback="broadcast")
            return False

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
