"""Pydantic models of the YAML configuration (the edge; the core gets plain dataclasses)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dhcpd.hooks.api import HOOK_NAMES

INFINITE_LEASE = 0xFFFFFFFF


class _Strict(BaseModel):
    # A typo in a key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConflictDetectionSettings(_Strict):
    """Ping an address before offering it (ISC ping-check, Windows conflict detection)."""

    # Echo requests per candidate address before it is declared free; 0 = off.
    attempts: Annotated[int, Field(ge=0, le=5)] = 0
    # How long each echo request waits for its reply.
    timeout_ms: Annotated[int, Field(ge=10, le=10_000)] = 500
    # Conflicting candidates after which a DHCPDISCOVER is dropped (NOADDRESS).
    max_conflicts_per_discover: Annotated[int, Field(ge=1, le=100)] = 3


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
    conflict_detection: ConflictDetectionSettings = Field(
        default_factory=ConflictDetectionSettings
    )
    # --- running as a service (docs/operations.md) ---
    user: str | None = Field(
        default=None, description="Started as root: switch to this user once bound."
    )
    group: str | None = Field(default=None, description="Default: the user's primary group.")
    health_socket: Path | None = Field(
        default=None, description="Unix socket answering one JSON status line; none = off."
    )

    @field_validator("user")
    @classmethod
    def _known_user(cls, value: str | None) -> str | None:
        from dhcpd.service.privileges import resolve_user

        if value is not None:
            resolve_user(value)  # ValueError: no such user
        return value

    @field_validator("group")
    @classmethod
    def _known_group(cls, value: str | None) -> str | None:
        from dhcpd.service.privileges import resolve_group

        if value is not None:
            resolve_group(value)
        return value

    @model_validator(mode="after")
    def _group_needs_user(self) -> ServerSettings:
        if self.group is not None and self.user is None:
            raise ValueError("'group' is set but 'user' is not (the group is used to "
                             "drop privileges, which needs a user)")
        return self
    # --- end running as a service ---


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


# --- control API and metrics (docs/control.md) ---------------------------------


class ControlTcpSettings(_Strict):
    """The optional TCP control listener: only with a token, and on loopback by default."""

    address: IPv4Address = IPv4Address("127.0.0.1")
    port: Annotated[int, Field(ge=1, le=65535)]
    token: Annotated[str, Field(min_length=16)] = Field(
        description="Shared secret every TCP request must carry (at least 16 characters).",
    )


class ControlSettings(_Strict):
    socket: Path | None = Field(
        default=None, description="Unix socket of the control API; none = no control socket."
    )
    socket_mode: Annotated[int, Field(ge=0, le=0o777)] = 0o660
    tcp: ControlTcpSettings | None = None

    @field_validator("socket_mode", mode="before")
    @classmethod
    def _octal(cls, value: Any) -> Any:
        # YAML reads 0660 as octal already; "0660" and "0o660" are read as octal too.
        if isinstance(value, str):
            try:
                return int(value.removeprefix("0o"), 8)
            except ValueError:
                raise ValueError(f"'{value}' is not an octal file mode") from None
        return value


class MetricsSettings(_Strict):
    address: IPv4Address = IPv4Address("127.0.0.1")
    port: Annotated[int, Field(ge=1, le=65535)] = 9267

# --- end control API and metrics -----------------------------------------------


class CalloutSettings(_Strict):
    """The callout API's registry values (CalloutEnabled, CalloutDlls) and our extras."""

    enabled: bool = False
    modules: list[str] = Field(
        default_factory=list, description="Paths to .py files or dotted module names."
    )
    # Per-module settings, keyed by the module entry exactly as in `modules`.
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Seconds per hook (by slot name, or "default").
    deadlines: dict[str, Annotated[float, Field(gt=0, le=300)]] = Field(default_factory=dict)
    # What a missed deadline does to the packet: continue, or drop (TIMEOUT).
    on_timeout: dict[str, Literal["continue", "drop"]] = Field(default_factory=dict)
    # Consecutive failures or timeouts after which a hook is quarantined.
    quarantine_after: Annotated[int, Field(ge=0, le=1_000_000)] = 5
    thread_workers: Annotated[int, Field(ge=1, le=256)] = 8
    # process: the callout runs in a worker process, restarted when it dies.
    isolation: Literal["none", "process"] = "none"
    # RLIMIT_AS of the worker process in MiB (None: no limit).
    worker_memory_mb: Annotated[int, Field(ge=64, le=1_048_576)] | None = None
    # Seconds before a dead worker is restarted (doubling, up to 30 s, while it
    # keeps dying within 5 s of its start).
    worker_restart_delay: Annotated[float, Field(ge=0, le=30)] = 0.5
    # packet_drop reports of packets dropped before new_packet (queue full or
    # expired) per second at most; the rest are counted, not reported.
    drop_reports_per_second: Annotated[int, Field(ge=1, le=1_000_000)] = 1000

    @model_validator(mode="after")
    def _known_names(self) -> CalloutSettings:
        allowed = {*HOOK_NAMES, "default"}
        for field_name in ("deadlines", "on_timeout"):
            for key in getattr(self, field_name):
                if key not in allowed:
                    raise ValueError(
                        f"{field_name}: unknown hook {key!r} (one of: {', '.join(sorted(allowed))})"
                    )
        for key in self.settings:
            if key not in self.modules:
                raise ValueError(f"settings: {key!r} is not one of the configured modules")
        return self


class DhcpdConfig(_Strict):
    server: ServerSettings = Field(default_factory=ServerSettings)
    lease_store: StoreSettings = Field(default_factory=SqliteStoreSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    options: OptionSet = Field(default_factory=OptionSet)
    subnets: list[SubnetSettings] = Field(default_factory=list)
    callouts: CalloutSettings = Field(default_factory=CalloutSettings)
    control: ControlSettings = Field(default_factory=ControlSettings)
    metrics: MetricsSettings | None = None  # none: no metrics endpoint
