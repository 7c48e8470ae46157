"""BOOTP clients (RFC 951, RFC 1534): no option 53, an address for good at once."""

from __future__ import annotations

from dhcpd.leases import INFINITE, CommitOutcome
from dhcpd.logsetup import get_logger
from dhcpd.wire import REQUESTED_ADDRESS

from .exchange import Exchange
from .reading import optional
from .reply import build_reply
from .request import offer_hook
from .types import DropReason, Outcome

log = get_logger("dhcpd.protocol")


async def handle_bootp(ex: Exchange) -> Outcome:
    subnet = ex.subnet
    if subnet is None:
        return Outcome.dropped(DropReason.NO_SUBNETS, "BOOTP from a network we do not serve")
    leases = ex.env.leases
    reservation = leases.reservation_for(subnet, ex.client)
    requested = optional(ex.request, REQUESTED_ADDRESS)
    # RFC 1534 section 3: a dynamically given BOOTP address has an infinite lease.
    offer = await leases.offer(ex.client, subnet, requested, ex.now, bootp=reservation is None)
    if offer is None:
        return Outcome.dropped(DropReason.NOADDRESS, "no address for a BOOTP client")
    result = await leases.commit(
        ex.client, subnet, offer.address, INFINITE, ex.now, bootp=reservation is None,
        under_lock=offer_hook(ex, INFINITE, bootp=True),
    )
    if result.outcome is CommitOutcome.REFUSED:
        return Outcome.dropped(DropReason.NOADDRESS, result.reason)
    if not result.proceed:
        return Outcome.dropped(DropReason.TIMEOUT, "address_offer callout timed out")
    log.info("lease_committed", address=str(offer.address), bootp=True)
    return Outcome(build_reply(ex, None, offer.address, INFINITE, reservation))
