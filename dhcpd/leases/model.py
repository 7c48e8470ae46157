"""The lease record and the client identity it is keyed by."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Address

from dhcpd.records import native_record
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


@dataclass(frozen=True, slots=True, init=False)
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

    def __init__(
        self,
        address: IPv4Address,
        client_key: ClientKey,
        hw_address: HardwareAddress,
        client_id: bytes | None,
        subnet_id: int,
        state: LeaseState,
        starts: float,
        expires: float,
        hostname: str | None = None,
    ) -> None:
        self.address = address  # type: ignore[misc]
        self.client_key = client_key  # type: ignore[misc]
        self.hw_address = hw_address  # type: ignore[misc]
        self.client_id = client_id  # type: ignore[misc]
        self.subnet_id = subnet_id  # type: ignore[misc]
        self.state = state  # type: ignore[misc]
        self.starts = starts  # type: ignore[misc]
        self.expires = expires  # type: ignore[misc]
        self.hostname = hostname  # type: ignore[misc]

    def blocks_address(self, now: float) -> bool:
        """Whether nobody else may be given this address now."""
        return self.state in (LeaseState.ACTIVE, LeaseState.DECLINED) and self.expires > now

    def is_active(self, now: float) -> bool:
        return self.state is LeaseState.ACTIVE and self.expires > now

    def remaining(self, now: float) -> int:
        return max(0, int(self.expires - now))


native_record(Lease)


@dataclass(frozen=True, slots=True, init=False)
class Client:
    """Who is asking: RFC 2131 section 4.2 identity plus what we record about it."""

    key: ClientKey
    hw_address: HardwareAddress
    client_id: bytes | None
    hostname: str | None = None

    def __init__(
        self,
        key: ClientKey,
        hw_address: HardwareAddress,
        client_id: bytes | None,
        hostname: str | None = None,
    ) -> None:
        self.key = key  # type: ignore[misc]
        self.hw_address = hw_address  # type: ignore[misc]
        self.client_id = client_id  # type: ignore[misc]
        self.hostname = hostname  # type: ignore[misc]


native_record(Client)


@dataclass(frozen=True, slots=True, init=False)
class Offer:
    address: IPv4Address
    client_key: ClientKey
    subnet_id: int
    expires: float

    def __init__(
        self,
        address: IPv4Address,
        client_key: ClientKey,
        subnet_id: int,
        expires: float,
    ) -> None:
        self.address = address  # type: ignore[misc]
        self.client_key = client_key  # type: ignore[misc]
        self.subnet_id = subnet_id  # type: ignore[misc]
        self.expires = expires  # type: ignore[misc]


native_record(Offer)


class CommitOutcome(enum.Enum):
    NEW = "new"  # the client had no active lease on this address
    RENEWED = "renewed"  # an active lease of the client's was extended
    REFUSED = "refused"  # the address is not the client's to have


@dataclass(frozen=True, slots=True, init=False)
class CommitResult:
    outcome: CommitOutcome
    lease: Lease | None
    reason: str = ""
    proceed: bool = True  # False: the under-lock hook asked to drop the reply

    def __init__(
        self,
        outcome: CommitOutcome,
        lease: Lease | None,
        reason: str = "",
        proceed: bool = True,
    ) -> None:
        self.outcome = outcome  # type: ignore[misc]
        self.lease = lease  # type: ignore[misc]
        self.reason = reason  # type: ignore[misc]
        self.proceed = proceed  # type: ignore[misc]


native_record(CommitResult)
