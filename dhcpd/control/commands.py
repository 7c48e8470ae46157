"""The control commands: one function per command, run on the event loop against the server."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from importlib import metadata
from ipaddress import IPv4Address
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from dhcpd import compiled_modules
from dhcpd.config import RuntimeConfig
from dhcpd.leases import Client, CommitOutcome, Lease, LeaseManager, LeaseState, client_key
from dhcpd.leases.model import INFINITE
from dhcpd.leases.stores import LeaseStore, SqliteLeaseStore
from dhcpd.logsetup import get_logger
from dhcpd.stats import ServerStats

from .models import (
    ControlRequest,
    ControlResponse,
    LeaseAddArguments,
    LeaseDeleteArguments,
    LeaseGetArguments,
    LeaseInfo,
    LeaseResult,
    LeasesListArguments,
    LeasesListResult,
    NoArguments,
    PauseResult,
    PoolStatistics,
    ReloadResult,
    StatisticsResult,
    StatusResult,
    StoreStatistics,
    SubnetInfo,
    parse_client_id,
    parse_hw_address,
)

log = get_logger("dhcpd.control")


class ControlTarget(Protocol):
    """What the commands need of the running server (DhcpServer provides it)."""

    config: RuntimeConfig
    stats: ServerStats
    leases: LeaseManager
    store: LeaseStore
    started: float  # Unix time

    @property
    def paused(self) -> bool: ...

    def pause(self) -> bool: ...
    def continue_(self) -> bool: ...
    def reload_config(self) -> list[str]: ...
    def queued(self) -> int: ...


def version() -> str:
    try:
        return metadata.version("dhcpd")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "unknown"


def lease_info(lease: Lease, now: float) -> LeaseInfo:
    infinite = lease.expires - lease.starts >= INFINITE
    return LeaseInfo(
        address=lease.address,
        hw_address=str(lease.hw_address),
        client_id=lease.client_id.hex(":") if lease.client_id else None,
        subnet_id=lease.subnet_id,
        state=lease.state.name.lower(),  # type: ignore[arg-type]
        starts=lease.starts,
        expires=None if infinite else lease.expires,
        remaining=INFINITE if infinite else lease.remaining(now),
        hostname=lease.hostname,
    )


Handler = Callable[[ControlTarget, Any], Awaitable[ControlResponse]]


class Commands:
    """Dispatch a validated request to its command; every failure is an error response."""

    def __init__(self, target: ControlTarget) -> None:
        self.target = target
        self._table: dict[str, tuple[type[BaseModel], Handler]] = {
            "status": (NoArguments, _status),
            "leases-list": (LeasesListArguments, _leases_list),
            "lease-get": (LeaseGetArguments, _lease_get),
            "lease-add": (LeaseAddArguments, _lease_add),
            "lease-delete": (LeaseDeleteArguments, _lease_delete),
            "pause": (NoArguments, _pause),
            "continue": (NoArguments, _continue),
            "reload": (NoArguments, _reload),
            "statistics": (NoArguments, _statistics),
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._table)

    async def run(self, request: ControlRequest) -> ControlResponse:
        entry = self._table.get(request.command)
        if entry is None:
            return ControlResponse.error(
                f"unknown command '{request.command}' (known: {', '.join(self.names)})"
            )
        model, handler = entry
        try:
            arguments = model.model_validate(request.arguments)
        except ValidationError as exc:
            return ControlResponse.error(f"bad arguments for '{request.command}': "
                                         + describe(exc))
        try:
            return await handler(self.target, arguments)
        except Exception as exc:
            log.exception("control_command_failed", command=request.command)
            return ControlResponse.error(f"'{request.command}' failed: {exc}")


def describe(exc: ValidationError) -> str:
    """'field: message; ...' from a pydantic error, without pydantic's URLs."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


# --- the commands ----------------------------------------------------------------------


async def _status(target: ControlTarget, _: NoArguments) -> ControlResponse:
    counts = {state.name.lower(): 0 for state in LeaseState}
    for lease in target.leases.leases():
        counts[lease.state.name.lower()] += 1
    subnets = [
        SubnetInfo(id=s.id, subnet=str(s.network), pools=[f"{p.first}-{p.last}" for p in s.pools])
        for s in target.config.subnets
    ]
    result = StatusResult(
        version=version(), compiled_modules=len(compiled_modules()), pid=os.getpid(),
        uptime=round(time.time() - target.started, 3),
        paused=target.paused, subnets=subnets, leases=counts,
    )
    return ControlResponse.ok("paused" if target.paused else "serving", result)


async def _leases_list(target: ControlTarget, args: LeasesListArguments) -> ControlResponse:
    now = time.time()
    state = LeaseState[args.state.upper()] if args.state is not None else None
    matched = sorted(
        (
            lease for lease in target.leases.leases()
            if (args.subnet is None or lease.subnet_id == args.subnet)
            and (state is None or lease.state is state)
        ),
        key=lambda lease: int(lease.address),
    )
    shown = [lease_info(lease, now) for lease in matched[: args.limit]]
    result = LeasesListResult(leases=shown, count=len(shown), matched=len(matched))
    return ControlResponse.ok(f"{len(matched)} lease(s)", result)


def _find(target: ControlTarget, args: LeaseGetArguments) -> Lease | None:
    if args.address is not None:
        return target.leases.lease_at(args.address)
    if args.client_id is not None:
        wanted = parse_client_id(args.client_id)
        matches = [lease for lease in target.leases.leases() if lease.client_id == wanted]
    else:
        assert args.hw_address is not None
        hw = parse_hw_address(args.hw_address).address
        matches = [lease for lease in target.leases.leases() if lease.hw_address.address == hw]
    # The client's best record: an active one, else the latest.
    matches.sort(key=lambda lease: (lease.state is LeaseState.ACTIVE, lease.starts))
    return matches[-1] if matches else None


async def _lease_get(target: ControlTarget, args: LeaseGetArguments) -> ControlResponse:
    lease = _find(target, args)
    if lease is None:
        return ControlResponse.error("no lease found")
    return ControlResponse.ok(f"lease of {lease.address}",
                              LeaseResult(lease=lease_info(lease, time.time())))


async def _lease_add(target: ControlTarget, args: LeaseAddArguments) -> ControlResponse:
    hw = parse_hw_address(args.hw_address)
    client_id = parse_client_id(args.client_id) if args.client_id is not None else None
    client = Client(client_key(client_id, hw), hw, client_id, args.hostname)
    subnet = next((s for s in target.config.subnets if args.address in s.network), None)
    lease_time = args.lease_time or (subnet.lease_time if subnet is not None else 0)
    now = time.time()
    result = await target.leases.add_lease(client, args.address, lease_time, now)
    if result.outcome is CommitOutcome.REFUSED or result.lease is None:
        return ControlResponse.error(f"lease for {args.address} not added: {result.reason}")
    return ControlResponse.ok(f"lease for {args.address} added",
                              LeaseResult(lease=lease_info(result.lease, now)))


async def _lease_delete(target: ControlTarget, args: LeaseDeleteArguments) -> ControlResponse:
    address: IPv4Address = args.address
    deleted = await target.leases.delete_lease(address, time.time())
    if deleted is None:
        return ControlResponse.error(f"no lease at {address}")
    return ControlResponse.ok(f"lease of {address} deleted",
                              LeaseResult(lease=lease_info(deleted, time.time())))


async def _pause(target: ControlTarget, _: NoArguments) -> ControlResponse:
    changed = target.pause()
    return ControlResponse.ok("paused" if changed else "already paused",
                              PauseResult(paused=True, changed=changed))


async def _continue(target: ControlTarget, _: NoArguments) -> ControlResponse:
    changed = target.continue_()
    return ControlResponse.ok("serving" if changed else "was not paused",
                              PauseResult(paused=False, changed=changed))


async def _reload(target: ControlTarget, _: NoArguments) -> ControlResponse:
    errors = target.reload_config()
    if errors:
        return ControlResponse(result="error", text="configuration rejected, the running one "
                               "is kept", arguments=ReloadResult(errors=errors).model_dump())
    return ControlResponse.ok("configuration reloaded", ReloadResult(errors=[]))


def pool_statistics(target: ControlTarget, now: float) -> list[PoolStatistics]:
    networks = {s.id: str(s.network) for s in target.config.subnets}
    return [
        PoolStatistics(
            subnet_id=u.subnet_id, subnet=networks.get(u.subnet_id, ""),
            pool=f"{u.first}-{u.last}", size=u.size, active=u.active, declined=u.declined,
            free=u.free, utilisation=round((u.active + u.declined) / u.size, 6),
        )
        for u in target.leases.usage(now)
    ]


async def _statistics(target: ControlTarget, _: NoArguments) -> ControlResponse:
    snapshot = target.stats.snapshot()
    store = None
    if isinstance(target.store, SqliteLeaseStore):
        s = target.store.stats
        store = StoreStatistics(commits=s.commits, rows=s.rows,
                                total_commit_seconds=s.total_commit_seconds,
                                last_commit_seconds=s.last_commit_seconds)
    result = StatisticsResult(
        received=snapshot["received"], sent=snapshot["sent"], dropped=snapshot["dropped"],
        queued=target.queued(), store=store, pools=pool_statistics(target, time.time()),
    )
    return ControlResponse.ok("statistics", result)
