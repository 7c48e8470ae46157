"""Reaching a client that has no address yet: a kernel ARP entry (SIOCSARP).

RFC 2131 section 4.1: when the broadcast bit is clear and ciaddr is zero, the
server unicasts to yiaddr at chaddr. The kernel cannot resolve yiaddr by ARP
(the client does not answer for it yet), so we tell it the mapping first. This
needs CAP_NET_ADMIN; without it the caller sends a raw frame (rawsend.py),
or broadcasts when it cannot.
"""

from __future__ import annotations

import fcntl
import socket
import struct
from ipaddress import IPv4Address

from dhcpd.logsetup import get_logger
from dhcpd.wire import HardwareAddress

log = get_logger("dhcpd.transport")

SIOCSARP = 0x8955
ATF_COM = 0x02  # a completed (resolved), non-permanent entry: it ages out by itself
ARPHRD_ETHER = 1


def _arpreq(address: IPv4Address, hw: HardwareAddress, interface: str) -> bytes:
    # struct arpreq { sockaddr arp_pa; sockaddr arp_ha; int arp_flags;
    #                 sockaddr arp_netmask; char arp_dev[16]; }
    protocol = struct.pack("=H2s4s8s", socket.AF_INET, b"\0\0", address.packed, b"")
    hardware = struct.pack("=H14s", ARPHRD_ETHER, hw.address)
    netmask = bytes(16)
    return protocol + hardware + struct.pack("=i", ATF_COM) + netmask + \
        interface.encode()[:15].ljust(16, b"\0")


class ArpTable:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._sock: socket.socket | None = None
        self.failures = 0

    def add(self, address: IPv4Address, hw: HardwareAddress, interface: str) -> bool:
        """Install address -> hw on interface; False when that is not possible here."""
        if not self.enabled or hw.htype != ARPHRD_ETHER or len(hw.address) != 6:
            return False
        if self._sock is None:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            fcntl.ioctl(self._sock.fileno(), SIOCSARP, _arpreq(address, hw, interface))
            return True
        except OSError as exc:
            self.failures += 1
            if self.failures == 1:
                log.warning("arp_entry_failed", address=str(address), interface=interface,
                            error=exc.strerror, fallback="raw frame, else broadcast")
            return False
