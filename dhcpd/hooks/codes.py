"""The codes of the callout API (Microsoft's dhcpssdk.h values): control codes,
drop reasons, address-delete reasons, offer and client kinds.

Re-exported by dhcpd.hooks.api, where callout modules import them from.
"""

from __future__ import annotations

import enum


class ControlCode(enum.IntEnum):
    """DhcpControlHook codes."""

    START = 1
    STOP = 2
    PAUSE = 3
    CONTINUE = 4


class DropReason(enum.IntEnum):
    """DhcpPktDropHook codes (Microsoft's values): why a packet got no reply."""

    DUPLICATE = 1
    NOMEM = 2  # our receive queue is full
    INTERNAL_ERROR = 3
    TIMEOUT = 4  # the packet waited too long, or a hook timed out
    UNAUTH = 5  # refused by policy
    PAUSED = 6
    NO_SUBNETS = 7
    INVALID = 8
    WRONG_SERVER = 9  # a request meant for another server
    NOADDRESS = 10
    PROCESSED = 11  # sent once at the end of every packet that reached new_packet
    GEN_FAILURE = 0x100


SEND_PACKET = 0x10000000  # DhcpPktSendHook's control code


class AddressDelReason(enum.IntEnum):
    """DhcpAddressDelHook codes: why an address is taken back."""

    CONFLICT = 0x20000001  # an ICMP echo to the address was answered
    DECLINE = 0x20000002
    RELEASE = 0x20000003
    NACKED = 0x20000004


class OfferKind(enum.IntEnum):
    """DhcpAddressOfferHook: a new lease or the renewal of an existing one."""

    NEW = 0x30000001  # GIVE_ADDRESS_NEW
    OLD = 0x30000002  # GIVE_ADDRESS_OLD


class ClientKind(enum.IntEnum):
    BOOTP = 0x30000003  # CLIENT_BOOTP
    DHCP = 0x30000004  # CLIENT_DHCP


INFINITE_LEASE = 0xFFFFFFFF
