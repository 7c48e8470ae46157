"""Pydantic models of the YAML configuration (the edge; the core gets plain dataclasses)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

INFINITE_LEASE = 0xFFFFFFFF


class _Strict(BaseModel):
    # A typo in a key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Strict):
    interfaces: list[str] = Field(
        default_factory=list,
        description="Interfaces to bind; empty means one wildcard socket on every interface.",
    )
    listen_address: IPv4Address = IPv4Address("0.0.0.0")
    port: Annotated[int, Field(ge=1, le=65535)] = 67
    client_port: Annotated[int, Field(ge=1, le=65535)] = 68
    server_id: IPv4Address | None = None
    authoritative: bool = True
    offer_hold_time: Annotated[float, Field(gt=0, le=3600)] = 30.0
    decline_probation_time: Annotated[float, Field(ge=0)] = 86400.0
    reclaim_interval: Annotated[float, Field(gt=0)] = 10.0
    hold_reclaimed_time: Annotated[float, Field(ge=0)] = 3600.0
    rapid_commit: bool = False
    workers: Annotated[int, Field(ge=1, le=1024)] = 256
    queue_size: Annotated[int, Field(ge=1, le=1_000_000)] = 1024
    # A packet that waited longer than this in the queue is dropped (TIMEOUT):
    # its client has retransmitted or given up by then.
    max_queue_delay: Annotated[float, Field(gt=0, le=60)] = 2.0
    unicast_via_arp: bool = True


class SqliteStoreSettings(_Strict):
    type: Literal["sqlite"] = "sqlite"
    path: Path = Path("leases.sqlite3")
    # How long the group committer waits for more writes before one fsync.
    commit_delay_ms: Annotated[float, Field(ge=0, le=1000)] = 2.0
    max_batch: Annotated[int, Field(ge=1, le=100_000)] = 1024


class MemoryStoreSettings(_Strict):
    type: Literal["memory"]


StoreSettings = Annotated[SqliteStoreSettings | MemoryStoreSettings, Field(discriminator="type")]


class LoggingSettings(_Strict):
    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class CustomOption(_Strict):
    """An option by code, for anything without a name: raw hex or text."""

    code: Annotated[int, Field(ge=1, le=254)]
    hex: str | None = None
    text: str | None = None
    always_send: bool = False

    @model_validator(mode="after")
    def _one_payload(self) -> CustomOption:
        if (self.hex is None) == (self.text is None):
            raise ValueError("give exactly one of 'hex' or 'text'")
        if self.hex is not None:
            try:
                bytes.fromhex(self.hex.replace(":", ""))
            except ValueError as exc:
                raise ValueError(f"'hex' is not hexadecimal: {exc}") from None
        return self

    def payload(self) -> bytes:
        if self.hex is not None:
            return bytes.fromhex(self.hex.replace(":", ""))
        assert self.text is not None
        return self.text.encode()


class OptionSet(_Strict):
    """Options by name (see docs/configuration.md for the list) plus custom codes."""

    model_config = ConfigDict(extra="allow", frozen=True)
    custom: list[CustomOption] = Field(default_factory=list)

    def named(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PoolSettings(_Strict):
    range: str
    allow_bootp: bool = False

    @field_validator("range")
    @classmethod
    def _valid_range(cls, value: str) -> str:
        first, last = parse_range(value)
        if int(last) < int(first):
            raise ValueError(f"range end {last} is before its start {first}")
        return value

    def bounds(self) -> tuple[IPv4Address, IPv4Address]:
        return parse_range(self.range)


def parse_range(value: str) -> tuple[IPv4Address, IPv4Address]:
    """'192.0.2.10-192.0.2.20' (spaces allowed) to its two ends."""
    parts = [p.strip() for p in value.split("-")]
    if len(parts) != 2:
        raise ValueError(f"'{value}' is not of the form FIRST-LAST")
    return IPv4Address(parts[0]), IPv4Address(parts[1])


class ReservationSettings(_Strict):
    hw_address: str | None = None
    client_id: str | None = Field(default=None, description="hex, e.g. 01:02:00:00:00:00:01")
    ip_address: IPv4Address
    hostname: str | None = None
    options: OptionSet = Field(default_factory=OptionSet)

    @model_validator(mode="after")
    def _one_identifier(self) -> ReservationSettings:
        if self.hw_address is None and self.client_id is None:
            raise ValueError("a reservation needs 'hw_address' or 'client_id'")
        if self.client_id is not None:
            try:
                bytes.fromhex(self.client_id.replace(":", "").replace("-", ""))
            except ValueError:
                raise ValueError(f"client_id '{self.client_id}' is not hexadecimal") from None
        return self


class SubnetSettings(_Strict):
    subnet: IPv4Network
    id: int | None = None
    interface: str | None = Field(
        default=None, description="Serve clients on this interface directly (no relay)."
    )
    relay_addresses: list[IPv4Address] = Field(
        default_factory=list,
        description="Extra giaddr values (relay addresses) outside the subnet that select it.",
    )
    pools: list[PoolSettings] = Field(default_factory=list)
    lease_time: Annotated[int, Field(ge=1, le=INFINITE_LEASE)] = 3600
    min_lease_time: Annotated[int, Field(ge=1, le=INFINITE_LEASE)] | None = None
    max_lease_time: Annotated[int, Field(ge=1, le=INFINITE_LEASE)] | None = None
    renew_timer: Annotated[int, Field(ge=1)] | None = None
    rebind_timer: Annotated[int, Field(ge=1)] | None = None
    authoritative: bool | None = None
    rapid_commit: bool | None = None
    options: OptionSet = Field(default_factory=OptionSet)
    reservations: list[ReservationSettings] = Field(default_factory=list)


class DhcpdConfig(_Strict):
    server: ServerSettings = Field(default_factory=ServerSettings)
    lease_store: StoreSettings = Field(default_factory=SqliteStoreSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    options: OptionSet = Field(default_factory=OptionSet)
    subnets: list[SubnetSettings] = Field(default_factory=list)
