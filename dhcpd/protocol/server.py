"""The protocol engine: one parsed request in, an Outcome out. No sockets here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address

from dhcpd.config import RuntimeConfig
from dhcpd.hooks.session import NO_PACKET_HOOKS, PacketHooks
from dhcpd.leases import LeaseManager
from dhcpd.wire import BOOTREQUEST, DhcpMessage, MalformedPacket, MessageType

from .bootp import handle_bootp
from .decline import handle_decline
from .discover import handle_discover
from .exchange import NO_PROBER, Exchange, Prober, ServerEnv
from .inform import handle_inform
from .reading import client_of
from .release import handle_release
from .request import handle_request
from .selection import select_subnet
from .types import DropReason, Outcome, ReceiveContext

Handler = Callable[[Exchange], Awaitable[Outcome]]

HANDLERS: dict[MessageType, Handler] = {
    MessageType.DISCOVER: handle_discover,
    MessageType.REQUEST: handle_request,
    MessageType.DECLINE: handle_decline,
    MessageType.RELEASE: handle_release,
    MessageType.INFORM: handle_inform,
}


class DhcpProtocol:
    """Decides what to answer; `now` is passed in so tests can drive time."""

    def __init__(
        self, leases: LeaseManager, config: RuntimeConfig, prober: Prober = NO_PROBER
    ) -> None:
        self.env = ServerEnv(leases, config, prober)

    def reconfigure(self, config: RuntimeConfig) -> None:
        self.env = ServerEnv(self.env.leases, config, self.env.prober)
        self.env.leases.set_subnets(config.subnets)

    async def handle(
        self, request: DhcpMessage, ctx: ReceiveContext, now: float,
        hooks: PacketHooks = NO_PACKET_HOOKS,
    ) -> Outcome:
        if request.op != BOOTREQUEST:
            return Outcome.dropped(DropReason.INVALID, "not a BOOTREQUEST")
        try:
            message_type = request.message_type
        except MalformedPacket as exc:
            return Outcome.dropped(DropReason.INVALID, f"bad message type option: {exc}")
        env = self.env
        config = env.config
        exchange = Exchange(
            env=env,
            request=request,
            ctx=ctx,
            now=now,
            subnet=select_subnet(config.subnets, request, ctx),
            client=client_of(request),
            server_id=self.server_id_for(ctx),
            hooks=hooks,
        )
        if message_type is None:
            return await handle_bootp(exchange)
        handler = HANDLERS.get(message_type)
        if handler is None:
            return Outcome.dropped(DropReason.INVALID, f"{message_type.name} is not for a server")
        return await handler(exchange)

    def server_id_for(self, ctx: ReceiveContext) -> IPv4Address:
        """Option 54: configured, else our address on the receiving interface."""
        configured = self.env.config.server.server_id
        return configured if configured is not None else ctx.local_address
