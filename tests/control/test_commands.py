"""The commands against an in-memory server: lease-add, lease-delete, pool usage, errors."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address

import pytest

from dhcpd.config import RuntimeConfig
from dhcpd.control import Commands, ControlRequest
from dhcpd.leases import LeaseManager
from dhcpd.leases.stores import LeaseStore, MemoryLeaseStore
from dhcpd.stats import ServerStats
from tests.factories import config


@dataclass
class FakeServer:
    config: RuntimeConfig
    leases: LeaseManager
    store: LeaseStore
    stats: ServerStats = field(default_factory=ServerStats)
    started: float = field(default_factory=time.time)
    paused: bool = False
    reloads: list[list[str]] = field(default_factory=list)

    def pause(self) -> bool:
        changed, self.paused = not self.paused, True
        return changed

    def continue_(self) -> bool:
        changed, self.paused = self.paused, False
        return changed

    def reload_config(self) -> list[str]:
        return ["subnets[0]: broken"]

    def queued(self) -> int:
        return 0


@pytest.fixture
async def commands() -> Commands:
    runtime = config()
    store = MemoryLeaseStore()
    await store.open()
    return Commands(FakeServer(runtime, LeaseManager(store, runtime.subnets), store))


async def call(commands: Commands, command: str, **arguments: object) -> tuple[str, str, dict]:
    response = await commands.run(ControlRequest(command=command, arguments=arguments))
    return response.result, response.text, response.arguments


async def test_lease_add_get_delete_round_trip(commands: Commands) -> None:
    result, _, args = await call(commands, "lease-add", address="192.0.2.150",
                                 hw_address="02:00:00:00:00:50", client_id="01:02:00:00:00:00:50")
    assert result == "ok" and args["lease"]["remaining"] == 3600  # the subnet's lease_time
    _, _, got = await call(commands, "lease-get", client_id="01:02:00:00:00:00:50")
    assert got["lease"]["address"] == "192.0.2.150"
    result, text, _ = await call(commands, "lease-add", address="192.0.2.150",
                                 hw_address="02:00:00:00:00:51")
    assert result == "error" and "in use" in text
    result, _, deleted = await call(commands, "lease-delete", address="192.0.2.150")
    assert result == "ok" and deleted["lease"]["address"] == "192.0.2.150"
    target = commands.target
    assert target.leases.lease_at(IPv4Address("192.0.2.150")) is None
    assert await target.store.get(IPv4Address("192.0.2.150")) is None
    result, _, _ = await call(commands, "lease-delete", address="192.0.2.150")
    assert result == "error"


async def test_lease_add_refuses_reserved_network_and_foreign_addresses(
    commands: Commands,
) -> None:
    for address, reason in (("192.0.2.10", "reserved"), ("192.0.2.0", "network"),
                            ("192.0.2.255", "broadcast"), ("10.0.0.1", "no configured subnet")):
        result, text, _ = await call(commands, "lease-add", address=address,
                                     hw_address="02:00:00:00:00:60")
        assert result == "error" and reason in text, text


async def test_statistics_show_pool_usage(commands: Commands) -> None:
    await call(commands, "lease-add", address="192.0.2.101", hw_address="02:00:00:00:00:61")
    await call(commands, "lease-add", address="192.0.2.5", hw_address="02:00:00:00:00:62")
    _, _, stats = await call(commands, "statistics")
    pools = {p["pool"]: p for p in stats["pools"]}
    first = pools["192.0.2.100-192.0.2.109"]
    assert (first["size"], first["active"], first["free"]) == (10, 1, 9)
    assert first["utilisation"] == pytest.approx(0.1)
    assert stats["store"] is None  # the memory store has no commit statistics


async def test_leases_list_filters_and_limits(commands: Commands) -> None:
    for n in range(3):
        await call(commands, "lease-add", address=f"192.0.2.10{n + 1}",
                   hw_address=f"02:00:00:00:01:0{n}")
    _, _, listed = await call(commands, "leases-list", limit=2)
    assert listed["count"] == 2 and listed["matched"] == 3
    _, _, none = await call(commands, "leases-list", subnet=2)
    assert none["matched"] == 0


async def test_errors_name_the_problem(commands: Commands) -> None:
    assert "unknown command" in (await call(commands, "nope"))[1]
    result, text, _ = await call(commands, "status", extra=1)
    assert result == "error" and "bad arguments for 'status'" in text
    result, text, args = await call(commands, "reload")
    assert result == "error" and args["errors"] == ["subnets[0]: broken"]
    assert (await call(commands, "pause"))[2] == {"paused": True, "changed": True}
    assert (await call(commands, "pause"))[2]["changed"] is False
    assert (await call(commands, "continue"))[2] == {"paused": False, "changed": True}
