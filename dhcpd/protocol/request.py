"""DHCPREQUEST in each client state (RFC 2131 section 4.3.2)."""

from __future__ import annotations

from collections.abc import Awaitable
from ipaddress import IPv4Address

from dhcpd.hooks.api import AddressDelReason
from dhcpd.leases import CommitOutcome, Lease
from dhcpd.leases.manager import CommitHook
from dhcpd.logsetup import get_logger
from dhcpd.wire import REQUESTED_ADDRESS, SERVER_ID, MessageType
from dhcpd.wire.addresses import address_int

from .exchange import Exchange
from .reading import optional
from .reply import build_nak, build_reply, lease_time_for
from .types import DropReason, Outcome

log = get_logger("dhcpd.protocol")


async def handle_request(ex: Exchange) -> Outcome:
    server_id = optional(ex.request, SERVER_ID)
    requested = optional(ex.request, REQUESTED_ADDRESS)
    if server_id is not None:
        return await _selecting(ex, server_id, requested)
    if requested is not None and address_int(ex.request.ciaddr) == 0:
        return await _init_reboot(ex, requested)
    if address_int(ex.request.ciaddr) != 0:
        return await _renewing_or_rebinding(ex)
    return Outcome.dropped(DropReason.INVALID, "REQUEST without server id, address or ciaddr")


async def _selecting(ex: Exchange, server_id: IPv4Address, requested: IPv4Address | None
                     ) -> Outcome:
    """The client chose an offer; if not ours, forget ours and stay silent."""
    if address_int(server_id) != address_int(ex.server_id):
        ex.env.leases.forget_offer(ex.client.key)
        return Outcome.dropped(DropReason.WRONG_SERVER, f"client chose server {server_id}")
    address = requested if requested is not None else ex.request.ciaddr
    if address_int(address) == 0:
        return Outcome.dropped(DropReason.INVALID, "SELECTING REQUEST without option 50")
    return await _commit(ex, address, "selecting")


async def _init_reboot(ex: Exchange, requested: IPv4Address) -> Outcome:
    """The client reboots with a remembered address: confirm it or say no."""
    subnet = ex.subnet
    authoritative = subnet.authoritative if subnet else ex.env.config.server.authoritative
    if subnet is None or not subnet.contains(requested):
        if authoritative and subnet is not None:
            return await _nak(ex, requested, "address is not on this network")
        return Outcome.dropped(DropReason.NO_SUBNETS, "INIT-REBOOT on a network we do not serve")
    lease = ex.env.leases.lease_of_client(ex.client.key)
    if lease is None or address_int(lease.address) != address_int(requested) or \
            not lease.is_active(ex.now):
        if authoritative:
            return await _nak(ex, requested, "no binding for this address")
        return Outcome.dropped(DropReason.UNAUTH, "unknown binding and not authoritative")
    return await _commit(ex, requested, "init-reboot")


async def _renewing_or_rebinding(ex: Exchange) -> Outcome:
    """Extend the lease at ciaddr; the reply goes to ciaddr (section 4.1)."""
    address = ex.request.ciaddr
    state = "renewing" if ex.ctx.unicast else "rebinding"
    if ex.subnet is None or not ex.subnet.contains(address):
        # Not an address of ours to judge: another server may own that network.
        return Outcome.dropped(DropReason.NO_SUBNETS, f"{state} for {address}: not our network")
    return await _commit(ex, address, state)


async def _commit(ex: Exchange, address: IPv4Address, state: str) -> Outcome:
    subnet = ex.subnet
    if subnet is None or not subnet.contains(address):
        return await _nak(ex, address, "address is not on this network")
    lease_time = lease_time_for(ex, subnet)
    leases = ex.env.leases
    result = await leases.commit(
        ex.client, subnet, address, lease_time, ex.now, under_lock=offer_hook(ex, lease_time),
    )
    if result.outcome is CommitOutcome.REFUSED:
        if not subnet.authoritative and state in ("renewing", "rebinding"):
            return Outcome.dropped(DropReason.UNAUTH, result.reason)
        return await _nak(ex, address, result.reason)
    if not result.proceed:
        return Outcome.dropped(DropReason.TIMEOUT, "address_offer callout timed out")
    log.info("lease_committed", address=address, state=state,
             outcome=result.outcome, lease_time=lease_time)
    reservation = leases.reservation_for(subnet, ex.client)
    return Outcome(build_reply(
        ex, MessageType.ACK, address, lease_time, reservation,
        keep_ciaddr=state in ("renewing", "rebinding"),
    ))


async def _nak(ex: Exchange, address: IPv4Address, reason: str) -> Outcome:
    log.info("request_nacked", address=str(address), reason=reason)
    if "address_del" in ex.hooks.callers:
        # AddressDel NACKED, just before the NAK, under the client's lock.
        async with ex.env.leases.client_lock(ex.client.key):
            if not await ex.hooks.address_del(AddressDelReason.NACKED, address):
                return Outcome.dropped(DropReason.TIMEOUT, "address_del callout timed out")
    return Outcome(build_nak(ex, reason))


def offer_hook(ex: Exchange, lease_time: int, bootp: bool = False) -> CommitHook | None:
    """AddressOffer, run by the lease manager with the client's locks held."""
    if "address_offer" not in ex.hooks.callers:
        return None

    def address_offer(lease: Lease, renewed: bool) -> Awaitable[bool]:
        # The hook's own awaitable, not a coroutine around it: this runs for every ACK.
        return ex.hooks.address_offer(lease.address, renewed, bootp, lease_time)

    return address_offer
