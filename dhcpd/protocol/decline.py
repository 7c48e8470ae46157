"""DHCPDECLINE: the client found the address in use (RFC 2131 section 4.3.3)."""

from __future__ import annotations

from dhcpd.hooks.api import AddressDelReason
from dhcpd.logsetup import get_logger
from dhcpd.wire import REQUESTED_ADDRESS, SERVER_ID
from dhcpd.wire.addresses import address_int

from .exchange import Exchange, address_del_hook
from .reading import optional
from .types import DropReason, Outcome

log = get_logger("dhcpd.protocol")


async def handle_decline(ex: Exchange) -> Outcome:
    server_id = optional(ex.request, SERVER_ID)
    if server_id is not None and address_int(server_id) != address_int(ex.server_id):
        return Outcome.dropped(DropReason.WRONG_SERVER, f"DECLINE for server {server_id}")
    address = optional(ex.request, REQUESTED_ADDRESS)
    if address is None:
        return Outcome.dropped(DropReason.INVALID, "DECLINE without option 50")
    declined = await ex.env.leases.decline(
        ex.client, address, ex.now, under_lock=address_del_hook(ex, AddressDelReason.DECLINE),
    )
    if declined is None:
        return Outcome.dropped(DropReason.INVALID, f"{address} is not this client's to decline")
    log.warning("address_declined", address=str(address), probation_until=declined.expires)
    return Outcome.dropped(DropReason.PROCESSED, "declined")
