"""Pydantic models of the control API: the request, the response, each command's data.

The wire format (docs/control.md) is one JSON object per line, Kea-like:
request {"command": ..., "arguments": {...}}, response {"result": "ok" | "error",
"text": ..., "arguments": {...}}.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dhcpd.wire import HardwareAddress

INFINITE_LEASE = 0xFFFFFFFF
LeaseStateName = Literal["active", "released", "expired", "declined"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_hw_address(value: str) -> HardwareAddress:
    return HardwareAddress.parse(value)


def parse_client_id(value: str) -> bytes:
    """Hex, with or without ':' or '-' separators ("01:02:00:00:00:00:01")."""
    try:
        data = bytes.fromhex(value.replace(":", "").replace("-", ""))
    except ValueError:
        raise ValueError(f"client_id '{value}' is not hexadecimal") from None
    if not data:
        raise ValueError("client_id is empty")
    return data


def _check_hw(value: str | None) -> str | None:
    if value is not None:
        parse_hw_address(value)  # raises ValueError with a readable message
    return value


def _check_client_id(value: str | None) -> str | None:
    if value is not None:
        parse_client_id(value)
    return value


# --- the envelope -----------------------------------------------------------------


class ControlRequest(_Model):
    command: Annotated[str, Field(min_length=1, max_length=64)]
    arguments: dict[str, Any] = Field(default_factory=dict)
    # Required on the TCP listener (bearer token); ignored on the Unix socket.
    token: str | None = None


class ControlResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: Literal["ok", "error"]
    text: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def ok(cls, text: str, arguments: BaseModel | dict[str, Any] | None = None) -> ControlResponse:
        if isinstance(arguments, BaseModel):
            arguments = arguments.model_dump(mode="json")
        return cls(result="ok", text=text, arguments=arguments or {})

    @classmethod
    def error(cls, text: str) -> ControlResponse:
        return cls(result="error", text=text)

    def line(self) -> bytes:
        return self.model_dump_json().encode() + b"\n"


# --- command arguments --------------------------------------------------------------


class NoArguments(_Model):
    pass


class LeasesListArguments(_Model):
    subnet: int | None = Field(default=None, description="subnet id")
    state: LeaseStateName | None = None
    limit: Annotated[int, Field(ge=1, le=100_000)] = 1000


class LeaseGetArguments(_Model):
    address: IPv4Address | None = None
    hw_address: str | None = None
    client_id: str | None = None

    _hw = field_validator("hw_address")(_check_hw)
    _cid = field_validator("client_id")(_check_client_id)

    @model_validator(mode="after")
    def _exactly_one(self) -> LeaseGetArguments:
        given = [v for v in (self.address, self.hw_address, self.client_id) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'address', 'hw_address' or 'client_id'")
        return self


class LeaseAddArguments(_Model):
    address: IPv4Address
    hw_address: str
    client_id: str | None = None
    lease_time: Annotated[int, Field(ge=1, le=INFINITE_LEASE)] | None = Field(
        default=None, description="seconds; default: the subnet's lease_time"
    )
    hostname: Annotated[str, Field(min_length=1, max_length=255)] | None = None

    _hw = field_validator("hw_address")(_check_hw)
    _cid = field_validator("client_id")(_check_client_id)


class LeaseDeleteArguments(_Model):
    address: IPv4Address


# --- response data --------------------------------------------------------------------


class LeaseInfo(_Model):
    address: IPv4Address
    hw_address: str
    client_id: str | None
    subnet_id: int
    state: LeaseStateName
    starts: float  # Unix time
    expires: float | None  # Unix time; None for an infinite lease
    remaining: int  # seconds until `expires` (0 once ended)
    hostname: str | None


class LeaseResult(_Model):
    lease: LeaseInfo


class LeasesListResult(_Model):
    leases: list[LeaseInfo]
    count: int  # how many are listed
    matched: int  # how many matched the filters (more than count when limited)


class SubnetInfo(_Model):
    id: int
    subnet: str
    pools: list[str]


class StatusResult(_Model):
    version: str
    compiled_modules: int  # modules running compiled by mypyc (0: pure Python; setup.py)
    pid: int
    uptime: float  # seconds
    paused: bool
    subnets: list[SubnetInfo]
    leases: dict[str, int]  # records by state name


class PauseResult(_Model):
    paused: bool
    changed: bool  # False when it was already in that state


class ReloadResult(_Model):
    errors: list[str]


class PoolStatistics(_Model):
    subnet_id: int
    subnet: str
    pool: str
    size: int
    active: int
    declined: int
    free: int
    utilisation: float  # (active + declined) / size


class StoreStatistics(_Model):
    commits: int
    rows: int
    total_commit_seconds: float
    last_commit_seconds: float


class StatisticsResult(_Model):
    received: dict[str, int]
    sent: dict[str, int]
    dropped: dict[str, int]
    queued: int
    store: StoreStatistics | None  # None for the memory store
    pools: list[PoolStatistics]
