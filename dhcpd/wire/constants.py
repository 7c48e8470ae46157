"""Numbers fixed by the DHCPv4 RFCs."""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "BOOTP_MIN_PACKET",
    "BOOTREPLY",
    "BOOTREQUEST",
    "CLIENT_PORT",
    "FIXED_HEADER_SIZE",
    "FLAG_BROADCAST",
    "INFINITE_LEASE",
    "IP_UDP_HEADER_SIZE",
    "MAGIC_COOKIE",
    "MIN_MESSAGE_SIZE",
    "SERVER_PORT",
    "MessageType",
    "OptionCode",
]

# RFC 2131 section 2: the 'op' field
BOOTREQUEST: Final = 1
BOOTREPLY: Final = 2

# RFC 2131 section 3 / RFC 1497: first four octets of the options field
MAGIC_COOKIE: Final = b"\x63\x82\x53\x63"

# RFC 2131 section 4.1
SERVER_PORT: Final = 67
CLIENT_PORT: Final = 68

# RFC 2131 section 2 / RFC 791: every host accepts a 576-byte IP datagram
MIN_MESSAGE_SIZE: Final = 576
# RFC 1542 section 2.1: BOOTP relays/clients may drop payloads shorter than a BOOTP packet
# (236-byte header + 64-byte vend field)
BOOTP_MIN_PACKET: Final = 300
# IPv4 header without options (20) + UDP header (8); RFC 2132 section 9.10 counts both
IP_UDP_HEADER_SIZE: Final = 28
# RFC 2131 section 2: op..file, before the options field
FIXED_HEADER_SIZE: Final = 236

# RFC 2131 section 2, figure 2: leftmost bit of 'flags'
FLAG_BROADCAST: Final = 0x8000

# RFC 2132 section 9.2: a lease time of 0xffffffff means infinity
INFINITE_LEASE: Final = 0xFFFFFFFF


class MessageType(enum.IntEnum):
    """Option 53 values: RFC 2132 section 9.6, RFC 3203, RFC 4388, RFC 6926, RFC 7724."""

    DISCOVER = 1
    OFFER = 2
    REQUEST = 3
    DECLINE = 4
    ACK = 5
    NAK = 6
    RELEASE = 7
    INFORM = 8
    FORCERENEW = 9  # RFC 3203
    LEASEQUERY = 10  # RFC 4388
    LEASEUNASSIGNED = 11  # RFC 4388
    LEASEUNKNOWN = 12  # RFC 4388
    LEASEACTIVE = 13  # RFC 4388
    BULKLEASEQUERY = 14  # RFC 6926
    LEASEQUERYDONE = 15  # RFC 6926
    ACTIVELEASEQUERY = 16  # RFC 7724
    LEASEQUERYSTATUS = 17  # RFC 7724
    TLS = 18  # RFC 7724


class OptionCode(enum.IntEnum):
    """Option codes the codec knows by name (RFC 2132 unless noted)."""

    PAD = 0
    SUBNET_MASK = 1
    TIME_OFFSET = 2
    ROUTER = 3
    DOMAIN_NAME_SERVER = 6
    HOST_NAME = 12
    DOMAIN_NAME = 15
    INTERFACE_MTU = 26
    BROADCAST_ADDRESS = 28
    NTP_SERVERS = 42
    VENDOR_SPECIFIC = 43
    NETBIOS_NAME_SERVERS = 44
    REQUESTED_ADDRESS = 50
    LEASE_TIME = 51
    OVERLOAD = 52
    MESSAGE_TYPE = 53
    SERVER_ID = 54
    PARAMETER_REQUEST_LIST = 55
    MESSAGE = 56
    MAX_MESSAGE_SIZE = 57
    RENEWAL_TIME = 58
    REBINDING_TIME = 59
    VENDOR_CLASS_ID = 60
    CLIENT_ID = 61
    TFTP_SERVER_NAME = 66
    BOOTFILE_NAME = 67
    USER_CLASS = 77  # RFC 3004
    RAPID_COMMIT = 80  # RFC 4039
    CLIENT_FQDN = 81  # RFC 4702
    RELAY_AGENT_INFO = 82  # RFC 3046
    SUBNET_SELECTION = 118  # RFC 3011
    DOMAIN_SEARCH = 119  # RFC 3397
    CLASSLESS_STATIC_ROUTE = 121  # RFC 3442
    END = 255
