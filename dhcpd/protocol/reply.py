"""Building replies: the fixed fields of RFC 2131 table 3 and the option set."""

from __future__ import annotations

import struct
from collections.abc import Iterable
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
from dhcpd.wire.addresses import address_bytes, address_int

from .destination import reply_destination
from .exchange import Exchange
from .reading import optional
from .types import Reply

ZERO = IPv4Address(0)
ZERO_SNAME = bytes(64)
ZERO_FILE = bytes(128)
_U32 = struct.Struct("!I")
MESSAGE_TYPE_CODE = MESSAGE_TYPE.code
SERVER_ID_CODE = SERVER_ID.code
PARAMETER_REQUEST_LIST_CODE = PARAMETER_REQUEST_LIST.code
LEASE_TIME_CODE = LEASE_TIME.code
RENEWAL_TIME_CODE = RENEWAL_TIME.code
REBINDING_TIME_CODE = REBINDING_TIME.code
SUBNET_MASK_CODE = SUBNET_MASK.code
RELAY_AGENT_INFO_CODE = int(OptionCode.RELAY_AGENT_INFO)
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
        sname=ZERO_SNAME,
        file=ZERO_FILE,
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
    """An OFFER, ACK or BOOTP reply carrying the client's options.

    This runs for every reply: the options are gathered in a plain dict of
    wire values (all valid by construction), then adopted by the message.
    """
    request = ex.request
    subnet = ex.subnet
    chosen: dict[int, bytes] = {}
    if reply_type is not None:
        chosen[MESSAGE_TYPE_CODE] = _TYPE_BYTES[reply_type]
        chosen[SERVER_ID_CODE] = address_bytes(ex.server_id)
    configured = configured_options(ex, subnet, reservation)
    values = configured.values
    # RFC 2132 section 9.8: the options the client asked for, in its order
    # (iterating the raw list yields the codes). BOOTP has no parameter
    # request list: it gets everything configured.
    requested: Iterable[int] = (
        request.options.get_raw(PARAMETER_REQUEST_LIST_CODE) or b""
        if reply_type is not None else tuple(values)
    )
    for code in requested:
        payload = values.get(code)
        if payload is not None and code not in chosen:
            chosen[code] = payload
    # Then what every lease reply carries (RFC 2131 section 4.3.1 and table 3).
    if lease_time is not None and reply_type is not None:
        chosen[LEASE_TIME_CODE] = _U32.pack(lease_time)
        if lease_time < INFINITE and subnet is not None:
            t1, t2 = timers_for(subnet, lease_time)
            chosen[RENEWAL_TIME_CODE] = _U32.pack(t1)
            chosen[REBINDING_TIME_CODE] = _U32.pack(t2)
    if subnet is not None and SUBNET_MASK_CODE not in chosen:
        chosen[SUBNET_MASK_CODE] = subnet.mask_bytes
    for code, payload in extra:
        chosen[code] = payload
    for code in configured.always_send:
        if code not in chosen:
            chosen[code] = values[code]
    # RFC 3046 section 2.2: echo option 82 unchanged, as the last option.
    relay_info = request.options.get_raw(RELAY_AGENT_INFO_CODE)
    if relay_info is not None:
        chosen.pop(RELAY_AGENT_INFO_CODE, None)
        chosen[RELAY_AGENT_INFO_CODE] = relay_info
    # RFC 2131 table 3: the fields of a server's reply
    message = DhcpMessage(
        BOOTREPLY, request.htype, request.hlen, 0, request.xid, 0, request.flags,
        request.ciaddr if keep_ciaddr else ZERO, yiaddr, ZERO, request.giaddr,
        request.chaddr, ZERO_SNAME, ZERO_FILE, Options._adopt(chosen),
    )  # fmt: skip
    return _addressed(ex, message, reply_type, yiaddr)


def build_nak(ex: Exchange, reason: str) -> Reply:
    """RFC 2131 table 3: a DHCPNAK carries only its type, our identifier and a message."""
    message = base_reply(ex, ZERO, keep_ciaddr=False)
    message.options.set(MESSAGE_TYPE, MessageType.NAK)
    message.options.set(SERVER_ID, ex.server_id)
    message.options.set(MESSAGE, reason)
    _echo_relay_info(ex, message.options)
    if address_int(ex.request.giaddr) != 0:
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
