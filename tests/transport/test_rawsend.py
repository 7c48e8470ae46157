"""The IPv4/UDP datagram built for a raw frame (the kernel checks neither header on send)."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

from dhcpd.transport.checksum import internet_checksum
from dhcpd.transport.rawsend import RawSender, ip_udp_datagram
from dhcpd.wire import HardwareAddress

SERVER = IPv4Address("192.0.2.1")
CLIENT = IPv4Address("192.0.2.100")


def test_headers_carry_the_addresses_ports_lengths_and_valid_checksums() -> None:
    payload = bytes(range(256)) + b"odd"  # odd length: the UDP checksum pads it
    packet = ip_udp_datagram(payload, SERVER, 67, CLIENT, 68)
    ip, udp, data = packet[:20], packet[20:28], packet[28:]
    version_ihl, _tos, total, _id, _frag, ttl, proto, _sum, src, dst = struct.unpack(
        "!BBHHHBBH4s4s", ip)
    assert (version_ihl, total, proto) == (0x45, len(packet), 17) and ttl > 0
    assert (IPv4Address(src), IPv4Address(dst)) == (SERVER, CLIENT)
    assert internet_checksum(ip) == 0  # RFC 1071: a header with its checksum sums to all ones
    source_port, destination_port, length, udp_sum = struct.unpack("!HHHH", udp)
    assert (source_port, destination_port, length) == (67, 68, 8 + len(payload))
    assert data == payload
    pseudo = SERVER.packed + CLIENT.packed + struct.pack("!BBH", 0, 17, length)
    assert udp_sum != 0 and internet_checksum(pseudo + udp + data) == 0


def test_without_a_packet_socket_or_an_ethernet_address_it_declines() -> None:
    sender = RawSender()  # not opened
    assert not sender.send(b"x", SERVER, 67, CLIENT, 68,
                           HardwareAddress(1, bytes(6)), "eth0")
    sender.open()
    try:
        token_ring = HardwareAddress(6, bytes(6))  # IEEE 802, not Ethernet: no link header known
        assert not sender.send(b"x", SERVER, 67, CLIENT, 68, token_ring, "eth0")
    finally:
        sender.close()
