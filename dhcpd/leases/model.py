"""The lease record and the client identity it is keyed by."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Address

from dhcpd.records import fast_init
from dhcpd.wire import HardwareAddress

INFINITE = 0xFFFFFFFF


class LeaseState(enum.IntEnum):
    ACTIVE = 0
    RELEASED = 1
    EXPIRED = 2  # reclaimed; kept a while so the client gets the same address back
    DECLINED = 3  # on probation until `expires` (RFC 2131 section 3.1 step 5)


ClientKey = bytes


def client_key(client_id: bytes | None, hw_address: HardwareAddress) -> ClientKey:
    """RFC 2131 section 4.2: the client identifier if given, else hardware type + address."""
    if client_id:
        return b"i" + client_id
    return b"h" + bytes((hw_address.htype,)) + hw_address.address


@fast_init  # built per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class Lease:
    address: IPv4Address
    client_key: ClientKey
    hw_address: HardwareAddress
    client_id: bytes | None
    subnet_id: int
    state: LeaseState
    starts: float  # Unix time
    expires: float  # Unix time; for DECLINED the end of the probation
    hostname: str | None = None

    def blocks_address(self, now: float) -> bool:
        """Whether nobody else may be given this address now."""
        return self.state in (LeaseState.ACTIVE, LeaseState.DECLINED) and self.expires > now

    def is_active(self, now: float) -> bool:
        return self.state is LeaseState.ACTIVE and self.expires > now

    def remaining(self, now: float) -> int:
        return max(0, int(self.expires - now))


@fast_init  # built per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class Client:
    """Who is asking: RFC 2131 section 4.2 identity plus what we record about it."""

    key: ClientKey
    hw_address: HardwareAddress
    client_id: bytes | None
    hostname: str | None = None


@fast_init  # built per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class Offer:
    address: IPv4Address
    client_key: ClientKey
    subnet_id: int
    expires: float


class CommitOutcome(enum.Enum):
    NEW = "new"  # the client had no active lease on this address
    RENEWED = "renewed"  # an active lease of the client's was extended
    REFUSED = "refused"  # the address is not the client's to have


@fast_init  # built per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class CommitResult:
    outcome: CommitOutcome
    lease: Lease | None
    reason: str = ""
    proceed: bool = True  # False: the under-lock hook asked to drop the reply
