"""The validated configuration as plain frozen dataclasses: what the core works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from dhcpd.wire import HardwareAddress

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

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1

    def __contains__(self, address: object) -> bool:
        return isinstance(address, IPv4Address) and self.first <= address <= self.last


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

    def pool_of(self, address: IPv4Address) -> Pool | None:
        for pool in self.pools:
            if address in pool:
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
