"""Microbenchmark of the wire codec: python bench/wire_bench.py (prints µs per operation)."""

from __future__ import annotations

import sys
import timeit
from ipaddress import IPv4Address
from pathlib import Path

# runnable from a checkout without installing the package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dhcpd.wire import (
    BOOTREPLY,
    DOMAIN_NAME,
    DOMAIN_NAME_SERVER,
    LEASE_TIME,
    MESSAGE_TYPE,
    REBINDING_TIME,
    RENEWAL_TIME,
    ROUTER,
    SERVER_ID,
    SUBNET_MASK,
    DhcpMessage,
    MessageType,
)

FIXTURE = Path(__file__).resolve().parent.parent / "tests/wire/fixtures/udhcpc_discover.hex"


# the server holds its configured addresses as IPv4Address objects already
YIADDR = IPv4Address("192.0.2.10")
SERVER = IPv4Address("192.0.2.1")
NETMASK = IPv4Address("255.255.255.0")
DNS = (IPv4Address("192.0.2.53"), IPv4Address("192.0.2.54"))


def make_ack(request: DhcpMessage) -> DhcpMessage:
    ack = DhcpMessage(
        op=BOOTREPLY, htype=request.htype, hlen=request.hlen, xid=request.xid,
        flags=request.flags, yiaddr=YIADDR, siaddr=SERVER, chaddr=request.chaddr,
    )  # fmt: skip
    o = ack.options
    o.set(MESSAGE_TYPE, MessageType.ACK)
    o.set(SERVER_ID, SERVER)
    o.set(LEASE_TIME, 3600)
    o.set(RENEWAL_TIME, 1800)
    o.set(REBINDING_TIME, 3150)
    o.set(SUBNET_MASK, NETMASK)
    o.set(ROUTER, (SERVER,))
    o.set(DOMAIN_NAME_SERVER, DNS)
    o.set(DOMAIN_NAME, "example.org")
    return ack


def main() -> None:
    discover = bytes.fromhex(FIXTURE.read_text().strip())
    request = DhcpMessage.parse(discover)
    ack = make_ack(request)
    ack_bytes = ack.encode()
    cases = {
        "parse DISCOVER (udhcpc fixture)": lambda: DhcpMessage.parse(discover),
        "parse ACK": lambda: DhcpMessage.parse(ack_bytes),
        "encode ACK (9 options)": lambda: ack.encode(),
        "build+encode ACK from DISCOVER": lambda: make_ack(request).encode(),
        "parse DISCOVER + build+encode ACK": lambda: make_ack(DhcpMessage.parse(discover)).encode(),
    }
    for name, fn in cases.items():
        number = 20_000
        best = min(timeit.repeat(fn, number=number, repeat=5)) / number
        print(f"{name:40s} {best * 1e6:7.2f} µs/op  ({1 / best:,.0f} ops/s)")


if __name__ == "__main__":
    main()
