"""The real daemon process over loopback: relayed exchanges, SIGKILL and restart, bad input.

These need no root: the daemon listens on 127.0.0.1 and a fake relay on
127.0.0.2 (same port) plays the relay agent, as perfdhcp does.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from dhcpd.wire import MessageType
from tests.daemon import Daemon, Relay
from tests.factories import request

SERVER = IPv4Address("127.0.0.1")
RELAY = "127.0.0.2"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def write_config(tmp_path: Path, port: int, store: str = "sqlite") -> Path:
    path = tmp_path / "dhcpd.yaml"
    path.write_text(f"""
server:
  listen_address: 127.0.0.1
  port: {port}
  client_port: {port + 1 if port < 65535 else port - 1}
lease_store:
  type: {store}
  {"path: " + str(tmp_path / "leases.sqlite3") if store == "sqlite" else ""}
logging: {{level: debug, format: json}}
subnets:
  - subnet: 127.0.0.0/8
    pools: [{{range: 127.0.1.10-127.0.1.250}}]
    lease_time: 3600
    options: {{routers: [127.0.0.1]}}
""")
    return path


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def daemon(tmp_path: Path, port: int) -> Iterator[Daemon]:
    instance = Daemon(write_config(tmp_path, port)).start()
    yield instance
    instance.stop()


@pytest.fixture
def relay(port: int) -> Iterator[Relay]:
    agent = Relay(RELAY, port, str(SERVER))
    yield agent
    agent.close()


def dora(relay: Relay, n: int) -> IPv4Address:
    giaddr = relay.address
    offer = relay.exchange(request(MessageType.DISCOVER, n, xid=n, giaddr=giaddr))
    assert offer is not None and offer.message_type is MessageType.OFFER
    ack = relay.exchange(
        request(
            MessageType.REQUEST,
            n,
            xid=n,
            giaddr=giaddr,
            requested=offer.yiaddr,
            server_id=SERVER,
        )
    )
    assert ack is not None and ack.message_type is MessageType.ACK, ack
    assert ack.yiaddr == offer.yiaddr
    return ack.yiaddr


def stored_leases(path: Path) -> dict[IPv4Address, bytes]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT address, hw_address FROM leases WHERE state = 0").fetchall()
    return {IPv4Address(address): hw for address, hw in rows}


POOL_FIRST = IPv4Address("127.0.1.10")
POOL_LAST = IPv4Address("127.0.1.250")


def test_relayed_dora_gets_an_ack_at_the_relay(daemon: Daemon, relay: Relay) -> None:
    address = dora(relay, 1)
    assert POOL_FIRST <= address <= POOL_LAST
    committed = daemon.wait_for_event("lease_committed", 5)
    assert committed["address"] == str(address)
    assert committed["client"] == "02:00:00:00:00:01"
    assert committed["xid"] == "0x00000001"


def test_acknowledged_leases_survive_sigkill_and_restart(
    tmp_path: Path, port: int, relay: Relay
) -> None:
    config = write_config(tmp_path, port)
    first = Daemon(config).start()
    try:
        given = {n: dora(relay, n) for n in range(1, 41)}
    finally:
        first.kill()  # straight after the last ACK: no shutdown, no flush
    assert first.process is not None and first.process.returncode == -signal.SIGKILL
    stored = stored_leases(tmp_path / "leases.sqlite3")
    assert set(stored) == set(given.values())

    second = Daemon(config).start()
    try:
        loaded = second.wait_for_event("leases_loaded", 5)
        assert loaded["count"] == 40
        for n, address in given.items():
            # INIT-REBOOT: the restarted server confirms each client's address...
            ack = relay.exchange(
                request(
                    MessageType.REQUEST,
                    n,
                    xid=1000 + n,
                    giaddr=relay.address,
                    requested=address,
                )
            )
            assert ack is not None and ack.message_type is MessageType.ACK
            assert ack.yiaddr == address
        # ... and a new client is given none of them.
        assert dora(relay, 500) not in given.values()
    finally:
        assert second.stop() == 0


def test_malformed_packets_are_counted_drops_and_serving_goes_on(
    daemon: Daemon, relay: Relay
) -> None:
    good = request(MessageType.DISCOVER, 1, giaddr=relay.address).encode()
    for bad in (
        b"",
        b"\x01",
        good[:100],
        good[:236] + b"XXXX" + good[240:],
        good[:240] + b"\x35\x09\x01",
    ):
        relay.send_raw(bad)
    assert dora(relay, 2) is not None
    drops = [e for e in daemon.events() if e.get("event") == "packet_dropped"]
    assert len(drops) >= 5
    assert {e["reason"] for e in drops} == {"INVALID"}
    assert daemon.process is not None and daemon.process.poll() is None


def test_bad_config_stops_the_daemon_before_it_binds(tmp_path: Path, port: int) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"""
server: {{listen_address: 127.0.0.1, port: {port}, wokers: 3}}
subnets:
  - subnet: 127.0.0.0/8
    pools: [{{range: 127.0.1.10-127.0.0.1}}]
""")
    result = subprocess.run(
        [sys.executable, "-m", "dhcpd", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "server.wokers" in result.stderr
    assert "subnets[0].pools[0].range" in result.stderr
    # Nothing was bound: the port is still free.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", port))


def test_check_config_lists_every_error_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("""
options: {routers: [300.1.1.1], no_such_option: 1}
subnets:
  - subnet: 192.0.2.0/24
    reservations: [{ip_address: 198.51.100.1, hw_address: "02:00:00:00:00:01"}]
""")
    result = subprocess.run(
        [sys.executable, "-m", "dhcpd", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "3 error(s)" in result.stderr
    for where in (
        "options.routers",
        "options.no_such_option",
        "subnets[0].reservations[0].ip_address",
    ):
        assert where in result.stderr


def test_sigterm_stops_the_daemon_cleanly(daemon: Daemon, relay: Relay) -> None:
    dora(relay, 3)
    daemon.signal(signal.SIGTERM)
    assert daemon.process is not None
    assert daemon.process.wait(10) == 0
    stats = daemon.wait_for_event("server_stopped", 1)["stats"]
    assert stats["received"] == {"DISCOVER": 1, "REQUEST": 1}
    assert stats["sent"] == {"OFFER": 1, "ACK": 1}


def test_sighup_reloads_and_a_bad_config_keeps_the_old_one(
    tmp_path: Path, port: int, daemon: Daemon, relay: Relay
) -> None:
    config = tmp_path / "dhcpd.yaml"
    config.write_text(config.read_text().replace("127.0.1.10-127.0.1.250", "127.0.2.10-127.0.2.20"))
    daemon.signal(signal.SIGHUP)
    daemon.wait_for_event("config_reloaded", 5)
    assert IPv4Address("127.0.2.10") <= dora(relay, 1) <= IPv4Address("127.0.2.20")

    config.write_text("subnets: [{subnet: 127.0.0.0/8, pools: [{range: nonsense}]}]")
    daemon.signal(signal.SIGHUP)
    rejected = daemon.wait_for_event("reload_rejected", 5)
    assert any("subnets[0].pools[0].range" in error for error in rejected["errors"])
    assert IPv4Address("127.0.2.10") <= dora(relay, 2) <= IPv4Address("127.0.2.20")


def test_sighup_refuses_a_port_change_that_needs_a_restart(
    tmp_path: Path, port: int, daemon: Daemon, relay: Relay
) -> None:
    config = tmp_path / "dhcpd.yaml"
    config.write_text(config.read_text().replace(f"port: {port}\n", f"port: {port + 2}\n", 1))
    daemon.signal(signal.SIGHUP)
    rejected = daemon.wait_for_event("reload_rejected", 5)
    assert any("server.port" in error for error in rejected["errors"])
    assert dora(relay, 1) is not None  # still serving on the old port
