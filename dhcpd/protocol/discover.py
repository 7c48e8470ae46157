"""DHCPDISCOVER: offer an address (RFC 2131 section 4.3.1), or commit at once (RFC 4039)."""

from __future__ import annotations

from ipaddress import IPv4Address

from dhcpd.config import Subnet
from dhcpd.hooks.api import AddressDelReason
from dhcpd.leases import CommitOutcome, Lease, Offer
from dhcpd.leases.manager import LeaseHook
from dhcpd.logsetup import get_logger
from dhcpd.wire import RAPID_COMMIT, REQUESTED_ADDRESS, MessageType, OptionCode
from dhcpd.wire.addresses import address_int

from .exchange import Exchange, address_del_hook
from .reading import optional
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
    chosen = await _offer_probed(ex, subnet, requested)
    if isinstance(chosen, Outcome):
        return chosen
    offer = chosen
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
                 outcome=result.outcome)
        return Outcome(build_reply(
            ex, MessageType.ACK, offer.address, lease_time, reservation,
            extra=((int(OptionCode.RAPID_COMMIT), b""),),
        ))
    return Outcome(build_reply(ex, MessageType.OFFER, offer.address, lease_time, reservation))


async def _offer_probed(
    ex: Exchange, subnet: Subnet, requested: IPv4Address | None
) -> Offer | Outcome:
    """An offer whose address, if new to the client, did not answer a ping.

    Conflict detection: an answered probe takes the address out of use (an
    ownerless DECLINED record on probation, AddressDel CONFLICT under the lease
    locks) and the next candidate is chosen and probed, up to
    `max_conflicts_per_discover`. Only this client's exchange waits on the probe.
    """
    leases = ex.env.leases
    settings = ex.env.config.server.conflict_detection
    conflicts = 0
    while True:
        offer = await leases.offer(ex.client, subnet, requested, ex.now)
        if offer is None:
            return Outcome.dropped(DropReason.NOADDRESS, f"no free address in {subnet.network}")
        if settings.attempts <= 0 or _known_to_client(ex, subnet, offer.address, requested):
            return offer
        answered = await ex.env.prober.probe(
            offer.address, settings.attempts, settings.timeout_ms / 1000
        )
        if not answered:
            return offer
        conflicts += 1
        hook_result: list[bool] = []
        recorded = await leases.mark_conflict(ex.client, offer.address, ex.now,
                                              under_lock=_conflict_hook(ex, hook_result))
        log.warning("address_conflict", address=str(offer.address),
                    recorded=recorded is not None,
                    probation_until=recorded.expires if recorded else None,
                    conflicts=conflicts)
        if hook_result and not hook_result[0]:
            return Outcome.dropped(DropReason.TIMEOUT, "address_del callout timed out")
        if conflicts >= settings.max_conflicts_per_discover:
            return Outcome.dropped(
                DropReason.NOADDRESS, f"{conflicts} conflicting addresses in {subnet.network}"
            )


def _conflict_hook(ex: Exchange, results: list[bool]) -> LeaseHook | None:
    """AddressDel CONFLICT under the lease locks; its verdict is appended to `results`."""
    hook = address_del_hook(ex, AddressDelReason.CONFLICT)
    if hook is None:
        return None
    call = hook

    async def address_del(lease: Lease) -> bool:
        proceed = bool(await call(lease))
        results.append(proceed)
        return proceed

    return address_del


def _known_to_client(
    ex: Exchange, subnet: Subnet, address: IPv4Address, requested: IPv4Address | None
) -> bool:
    """Addresses not probed: the client's reservation (as ISC: fixed addresses are
    not pinged), its active lease (it is using it), and its previous lease when it
    asks for it again (option 50)."""
    reservation = ex.env.leases.reservation_for(subnet, ex.client)
    if reservation is not None and address_int(reservation.address) == address_int(address):
        return True
    lease = ex.env.leases.lease_of_client(ex.client.key)
    if lease is None or address_int(lease.address) != address_int(address):
        return False
    return lease.is_active(ex.now) or requested == address
