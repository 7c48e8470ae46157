"""DHCPDISCOVER: offer an address (RFC 2131 section 4.3.1), or commit at once (RFC 4039)."""

from __future__ import annotations

from dhcpd.leases import CommitOutcome
from dhcpd.logsetup import get_logger
from dhcpd.wire import RAPID_COMMIT, REQUESTED_ADDRESS, MessageType, OptionCode

from .exchange import Exchange, optional
from .reply import build_reply, lease_time_for
from .request import offer_hook
from .types import DropReason, Outcome

log = get_logger("dhcpd.protocol")


async def handle_discover(ex: Exchange) -> Outcome:
    subnet = ex.subnet
    if subnet is None:
        return Outcome.dropped(DropReason.NO_SUBNETS, "no subnet for this client's link")
    leases = ex.env.leases
    requested = optional(ex.request, REQUESTED_ADDRESS)
    offer = await leases.offer(ex.client, subnet, requested, ex.now)
    if offer is None:
        return Outcome.dropped(DropReason.NOADDRESS, f"no free address in {subnet.network}")
    reservation = leases.reservation_for(subnet, ex.client)
    lease_time = lease_time_for(ex, subnet)
    if subnet.rapid_commit and optional(ex.request, RAPID_COMMIT):
        # RFC 4039 section 4: commit now and answer with an ACK carrying option 80.
        result = await leases.commit(
            ex.client, subnet, offer.address, lease_time, ex.now,
            under_lock=offer_hook(ex, lease_time),
        )
        if result.outcome is CommitOutcome.REFUSED:
            return Outcome.dropped(DropReason.NOADDRESS, f"rapid commit: {result.reason}")
        if not result.proceed:
            return Outcome.dropped(DropReason.TIMEOUT, "address_offer callout timed out")
        log.info("lease_committed", address=str(offer.address), rapid_commit=True,
                 outcome=result.outcome.value)
        return Outcome(build_reply(
            ex, MessageType.ACK, offer.address, lease_time, reservation,
            extra=((int(OptionCode.RAPID_COMMIT), b""),),
        ))
    return Outcome(build_reply(ex, MessageType.OFFER, offer.address, lease_time, reservation))
