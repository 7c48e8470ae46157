"""Building replies: the fixed fields of RFC 2131 table 3 and the option set."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

from dhcpd.config import Reservation, Subnet
from dhcpd.config.options import OptionBundle
from dhcpd.leases import INFINITE
from dhcpd.wire import (
    BOOTREPLY,
    LEASE_TIME,
    MESSAGE,
    MESSAGE_TYPE,
    PARAMETER_REQUEST_LIST,
    REBINDING_TIME,
    RENEWAL_TIME,
    SERVER_ID,
    SUBNET_MASK,
    DhcpMessage,
    MessageType,
    OptionCode,
    Options,
)

from .destination import reply_destination
from .exchange import Exchange, optional
from .types import Reply

ZERO = IPv4Address(0)
_U32 = struct.Struct("!I")
_TYPE_BYTES = {kind: bytes((kind,)) for kind in MessageType}


def lease_time_for(ex: Exchange, subnet: Subnet) -> int:
    """The client may ask for a lease time (option 51); the subnet's bounds decide."""
    requested = optional(ex.request, LEASE_TIME)
    if requested is None:
        return subnet.lease_time
    return min(max(requested, subnet.min_lease_time), subnet.max_lease_time)


def timers_for(subnet: Subnet, lease_time: int) -> tuple[int, int]:
    """T1 and T2: configured, else RFC 2131 section 4.4.5 defaults (50% and 87.5%)."""
    t1 = subnet.renew_timer if subnet.renew_timer is not None else lease_time // 2
    t2 = subnet.rebind_timer if subnet.rebind_timer is not None else lease_time * 7 // 8
    return min(t1, lease_time), min(t2, lease_time)


def base_reply(ex: Exchange, yiaddr: IPv4Address, keep_ciaddr: bool) -> DhcpMessage:
    """RFC 2131 table 3: the fields of a server's reply."""
    request = ex.request
    return DhcpMessage(
        op=BOOTREPLY,
        htype=request.htype,
        hlen=request.hlen,
        hops=0,
        xid=request.xid,
        secs=0,
        flags=request.flags,
        ciaddr=request.ciaddr if keep_ciaddr else ZERO,
        yiaddr=yiaddr,
        siaddr=ZERO,
        giaddr=request.giaddr,
        chaddr=request.chaddr,
        sname=bytes(64),
        file=bytes(128),
        options=Options(),
    )


def configured_options(
    ex: Exchange, subnet: Subnet | None, reservation: Reservation | None
) -> OptionBundle:
    """Global, then subnet (merged at load time), then reservation: the most specific wins."""
    options = subnet.options if subnet is not None else ex.env.config.options
    return options.overlay(reservation.options) if reservation is not None else options


def build_reply(
    ex: Exchange,
    reply_type: MessageType | None,
    yiaddr: IPv4Address,
    lease_time: int | None,
    reservation: Reservation | None = None,
    keep_ciaddr: bool = False,
    extra: tuple[tuple[int, bytes], ...] = (),
) -> Reply:
    """An OFFER, ACK or BOOTP reply carrying the client's options."""
    message = base_reply(ex, yiaddr, keep_ciaddr)
    options = message.options
    if reply_type is not None:
        # Raw forms of the options every reply carries: this is the hot path.
        options.set_raw(MESSAGE_TYPE.code, _TYPE_BYTES[reply_type])
        options.set_raw(SERVER_ID.code, ex.server_id.packed)
    configured = configured_options(ex, ex.subnet, reservation)
    values = configured.values
    # RFC 2132 section 9.8: the options the client asked for, in its order.
    requested = optional(ex.request, PARAMETER_REQUEST_LIST) or ()
    if reply_type is None:
        # BOOTP has no parameter request list: give it everything configured.
        requested = tuple(values)
    for code in requested:
        payload = values.get(code)
        if payload is not None and code not in options:
            options.set_raw(code, payload)
    # Then what every lease reply carries (RFC 2131 section 4.3.1 and table 3).
    if lease_time is not None and reply_type is not None:
        options.set_raw(LEASE_TIME.code, _U32.pack(lease_time))
        if lease_time < INFINITE and ex.subnet is not None:
            t1, t2 = timers_for(ex.subnet, lease_time)
            options.set_raw(RENEWAL_TIME.code, _U32.pack(t1))
            options.set_raw(REBINDING_TIME.code, _U32.pack(t2))
    if ex.subnet is not None and SUBNET_MASK.code not in options:
        options.set_raw(SUBNET_MASK.code, ex.subnet.network.netmask.packed)
    for code, payload in extra:
        options.set_raw(code, payload)
    for code in configured.always_send:
        if code not in options:
            options.set_raw(code, values[code])
    _echo_relay_info(ex, options)
    return _addressed(ex, message, reply_type, yiaddr)


def build_nak(ex: Exchange, reason: str) -> Reply:
    """RFC 2131 table 3: a DHCPNAK carries only its type, our identifier and a message."""
    message = base_reply(ex, ZERO, keep_ciaddr=False)
    message.options.set(MESSAGE_TYPE, MessageType.NAK)
    message.options.set(SERVER_ID, ex.server_id)
    message.options.set(MESSAGE, reason)
    _echo_relay_info(ex, message.options)
    if ex.request.giaddr != ZERO:
        # RFC 2131 section 4.3.2: the relay must broadcast the NAK to the client.
        message.flags |= 0x8000
    return _addressed(ex, message, MessageType.NAK, ZERO)


def _echo_relay_info(ex: Exchange, options: Options) -> None:
    # RFC 3046 section 2.2: echo option 82 unchanged, as the last option.
    relay_info = ex.request.options.get_raw(OptionCode.RELAY_AGENT_INFO)
    if relay_info is not None:
        options.set_raw(OptionCode.RELAY_AGENT_INFO, relay_info)


def _addressed(
    ex: Exchange, message: DhcpMessage, reply_type: MessageType | None, yiaddr: IPv4Address
) -> Reply:
    settings = ex.env.config.server
    destination = reply_destination(
        ex.request, reply_type, yiaddr, settings.port, settings.client_port
    )
    return Reply(message, destination, ex.server_id, ex.max_size)
