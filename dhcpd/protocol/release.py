"""DHCPRELEASE: the client gives its address back (RFC 2131 section 4.3.4)."""

from __future__ import annotations

from dhcpd.hooks.api import AddressDelReason
from dhcpd.logsetup import get_logger
from dhcpd.wire import SERVER_ID
from dhcpd.wire.addresses import address_int

from .exchange import Exchange, address_del_hook
from .reading import optional
from .types import DropReason, Outcome

log = get_logger("dhcpd.protocol")


async def handle_release(ex: Exchange) -> Outcome:
    server_id = optional(ex.request, SERVER_ID)
    if server_id is not None and address_int(server_id) != address_int(ex.server_id):
        return Outcome.dropped(DropReason.WRONG_SERVER, f"RELEASE for server {server_id}")
    address = ex.request.ciaddr
    released = await ex.env.leases.release(
        ex.client, address, ex.now, under_lock=address_del_hook(ex, AddressDelReason.RELEASE),
    )
    if released is None:
        return Outcome.dropped(DropReason.INVALID, f"{address} is not leased to this client")
    log.info("lease_released", address=str(address))
    return Outcome.dropped(DropReason.PROCESSED, "released")
