"""The state of handling one request, shared by the per-message handlers."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Protocol

from dhcpd.config import RuntimeConfig, Subnet
from dhcpd.hooks.api import AddressDelReason
from dhcpd.hooks.session import NO_PACKET_HOOKS, PacketHooks
from dhcpd.leases import Client, Lease, LeaseManager
from dhcpd.leases.manager import LeaseHook
from dhcpd.records import native_record
from dhcpd.wire import (
    MAX_MESSAGE_SIZE,
    MIN_MESSAGE_SIZE,
    DhcpMessage,
)

from .reading import optional
from .types import ReceiveContext


class Prober(Protocol):
    """Conflict detection: does anyone answer an ICMP echo at `address`?

    The protocol never touches sockets; the app passes the real prober
    (dhcpd/transport/icmp.py). True means the address is in use.
    """

    async def probe(self, address: IPv4Address, attempts: int, timeout: float) -> bool: ...


class NoProber:
    """The default: nothing is probed, every address is free."""

    async def probe(self, address: IPv4Address, attempts: int, timeout: float) -> bool:
        return False


NO_PROBER = NoProber()


@dataclass(frozen=True, slots=True)
class ServerEnv:
    """What every handler may use: the lease manager, the configuration, the prober."""

    leases: LeaseManager
    config: RuntimeConfig
    prober: Prober = NO_PROBER


@dataclass(frozen=True, slots=True, init=False)
class Exchange:
    env: ServerEnv
    request: DhcpMessage
    ctx: ReceiveContext
    now: float
    subnet: Subnet | None
    client: Client
    server_id: IPv4Address
    hooks: PacketHooks = NO_PACKET_HOOKS

    def __init__(
        self,
        env: ServerEnv,
        request: DhcpMessage,
        ctx: ReceiveContext,
        now: float,
        subnet: Subnet | None,
        client: Client,
        server_id: IPv4Address,
        hooks: PacketHooks = NO_PACKET_HOOKS,
    ) -> None:
        self.env = env  # type: ignore[misc]
        self.request = request  # type: ignore[misc]
        self.ctx = ctx  # type: ignore[misc]
        self.now = now  # type: ignore[misc]
        self.subnet = subnet  # type: ignore[misc]
        self.client = client  # type: ignore[misc]
        self.server_id = server_id  # type: ignore[misc]
        self.hooks = hooks  # type: ignore[misc]

    @property
    def max_size(self) -> int:
        """RFC 2132 section 9.10: the client's limit, never below 576."""
        if MAX_MESSAGE_SIZE.code not in self.request.options:
            return MIN_MESSAGE_SIZE  # the common case: no decoding
        size = optional(self.request, MAX_MESSAGE_SIZE)
        return max(MIN_MESSAGE_SIZE, size or MIN_MESSAGE_SIZE)


native_record(Exchange)


def address_del_hook(ex: Exchange, reason: AddressDelReason) -> LeaseHook | None:
    """AddressDel (DECLINE, RELEASE), run by the lease manager under its locks."""
    if "address_del" not in ex.hooks.callers:
        return None

    async def address_del(lease: Lease) -> bool:
        return await ex.hooks.address_del(reason, lease.address)

    return address_del
