"""The validated configuration as plain frozen dataclasses: what the core works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from dhcpd.wire import HardwareAddress
from dhcpd.wire.addresses import address_int

from .models import (
    ControlSettings,
    DhcpdConfig,
    LoggingSettings,
    MetricsSettings,
    ServerSettings,
    StoreSettings,
)
from .options import OptionBundle


@dataclass(frozen=True, slots=True)
class Pool:
    first: IPv4Address
    last: IPv4Address
    allow_bootp: bool = False
    # the bounds as ints: IPv4Address comparisons cost ~1 µs each on the hot path
    _low: int = field(init=False, repr=False, compare=False)
    _high: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_low", int(self.first))
        object.__setattr__(self, "_high", int(self.last))

    @property
    def size(self) -> int:
        return self._high - self._low + 1

    def __contains__(self, address: object) -> bool:
        return isinstance(address, IPv4Address) and self._low <= address_int(address) <= self._high


@dataclass(frozen=True, slots=True)
class Reservation:
    address: IPv4Address
    hw_address: HardwareAddress | None
    client_id: bytes | None
    hostname: str | None
    options: OptionBundle = field(default_factory=OptionBundle)


@dataclass(frozen=True, slots=True)
class Subnet:
    id: int
    network: IPv4Network
    pools: tuple[Pool, ...]
    lease_time: int
    min_lease_time: int
    max_lease_time: int
    renew_timer: int | None
    rebind_timer: int | None
    authoritative: bool
    rapid_commit: bool
    options: OptionBundle  # the global options overlaid with the subnet's
    reservations: tuple[Reservation, ...] = ()
    interface: str | None = None
    relay_addresses: tuple[IPv4Address, ...] = ()
    # precomputed for the hot path (IPv4Network.__contains__ costs ~1 µs)
    mask_bytes: bytes = field(init=False, repr=False, compare=False)
    _network: int = field(init=False, repr=False, compare=False)
    _mask: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mask_bytes", self.network.netmask.packed)
        object.__setattr__(self, "_network", int(self.network.network_address))
        object.__setattr__(self, "_mask", int(self.network.netmask))

    def contains(self, address: IPv4Address) -> bool:
        """`address in self.network`, fast."""
        return address_int(address) & self._mask == self._network

    def pool_of(self, address: IPv4Address) -> Pool | None:
        value = address_int(address)
        for pool in self.pools:
            if pool._low <= value <= pool._high:
                return pool
        return None


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    server: ServerSettings
    lease_store: StoreSettings
    logging: LoggingSettings
    options: OptionBundle
    subnets: tuple[Subnet, ...]
    source: DhcpdConfig
    control: ControlSettings = field(default_factory=ControlSettings)
    metrics: MetricsSettings | None = None
