"""Building requests and a server without sockets, for the unit tests."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from dhcpd.config import RuntimeConfig, parse_config
from dhcpd.leases import LeaseManager
from dhcpd.leases.stores import LeaseStore, MemoryLeaseStore
from dhcpd.protocol import NO_PROBER, DhcpProtocol, Prober, ReceiveContext
from dhcpd.wire import (
    BOOTREQUEST,
    CLIENT_ID,
    MESSAGE_TYPE,
    PARAMETER_REQUEST_LIST,
    REQUESTED_ADDRESS,
    SERVER_ID,
    DhcpMessage,
    MessageType,
    Options,
)

ZERO = IPv4Address(0)
SERVER_ADDRESS = IPv4Address("192.0.2.1")

BASE_CONFIG = """
server:
  authoritative: true
  offer_hold_time: 30
  decline_probation_time: 600
lease_store: {type: memory}
options:
  domain_name_servers: [192.0.2.53]
subnets:
  - subnet: 192.0.2.0/24
    id: 1
    pools:
      - range: 192.0.2.100-192.0.2.109
      - range: 192.0.2.200-192.0.2.201
        allow_bootp: true
    lease_time: 3600
    options:
      routers: [192.0.2.1]
    reservations:
      - hw_address: "02:00:00:00:00:10"
        ip_address: 192.0.2.10
        hostname: printer
  - subnet: 198.51.100.0/24
    id: 2
    pools:
      - range: 198.51.100.10-198.51.100.20
    lease_time: 600
"""


def config(text: str = BASE_CONFIG) -> RuntimeConfig:
    return parse_config(text)


def mac(n: int) -> bytes:
    return bytes([0x02, 0, 0, 0, (n >> 8) & 0xFF, n & 0xFF])


def request(
    kind: MessageType | None,
    n: int = 1,
    *,
    xid: int = 0x1234,
    ciaddr: IPv4Address = ZERO,
    giaddr: IPv4Address = ZERO,
    requested: IPv4Address | None = None,
    server_id: IPv4Address | None = None,
    client_id: bytes | None = None,
    broadcast: bool = False,
    prl: tuple[int, ...] = (1, 3, 6, 15),
    extra: tuple[tuple[int, bytes], ...] = (),
) -> DhcpMessage:
    options = Options()
    if kind is not None:
        options.set(MESSAGE_TYPE, kind)
    if requested is not None:
        options.set(REQUESTED_ADDRESS, requested)
    if server_id is not None:
        options.set(SERVER_ID, server_id)
    if client_id is not None:
        options.set(CLIENT_ID, client_id)
    if prl:
        options.set(PARAMETER_REQUEST_LIST, prl)
    for code, payload in extra:
        options.set_raw(code, payload)
    return DhcpMessage(
        op=BOOTREQUEST, htype=1, hlen=6, hops=1 if giaddr != ZERO else 0, xid=xid, secs=0,
        flags=0x8000 if broadcast else 0, ciaddr=ciaddr, yiaddr=ZERO, siaddr=ZERO,
        giaddr=giaddr, chaddr=mac(n).ljust(16, b"\0"), sname=bytes(64), file=bytes(128),
        options=options,
    )


def context(
    local: IPv4Address = SERVER_ADDRESS, unicast: bool = False, source: str = "0.0.0.0"
) -> ReceiveContext:
    return ReceiveContext(
        interface="veth0", ifindex=2, local_address=local,
        source_address=IPv4Address(source), source_port=68, unicast=unicast,
    )


class Harness:
    """A protocol engine over a memory store, with a clock the test moves."""

    def __init__(
        self, text: str = BASE_CONFIG, store: LeaseStore | None = None,
        prober: Prober = NO_PROBER,
    ) -> None:
        self.config = config(text)
        self.store = store or MemoryLeaseStore()
        server = self.config.server
        self.leases = LeaseManager(
            self.store, self.config.subnets, offer_hold_time=server.offer_hold_time,
            decline_probation_time=server.decline_probation_time,
            hold_reclaimed_time=server.hold_reclaimed_time,
        )
        self.protocol = DhcpProtocol(self.leases, self.config, prober)
        self.now = 1_700_000_000.0

    async def send(self, message: DhcpMessage, **ctx: Any) -> Any:
        # Round-trip through the codec, as the daemon does.
        parsed = DhcpMessage.parse(message.encode())
        return await self.protocol.handle(parsed, context(**ctx), self.now)

    async def dora(self, n: int = 1, **kw: Any) -> IPv4Address:
        offer = await self.send(request(MessageType.DISCOVER, n, **kw))
        assert offer.reply is not None, offer
        address = offer.reply.message.yiaddr
        ack = await self.send(request(
            MessageType.REQUEST, n, requested=address, server_id=SERVER_ADDRESS, **kw
        ))
        assert ack.reply is not None, ack
        assert ack.reply.message.message_type is MessageType.ACK
        return address
