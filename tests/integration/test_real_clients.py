"""Real DHCP clients (ISC dhclient, busybox udhcpc, perfdhcp as a relay) against the daemon.

Each test builds two network namespaces joined by a veth pair, runs the daemon
in one on port 67 and the client in the other. Needs root: skipped on a laptop,
run (and failing if impossible) under CI=true.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from tests.daemon import Daemon
from tests.integration.conftest import in_ci
from tests.integration.netns import (
    RELAY_ADDR,
    Capture,
    Dhclient,
    VethLink,
    make_pair,
    make_relay_pair,
    missing_tools,
    perfdhcp_exchange,
    udhcpc_lease,
)

POOL = (IPv4Address("192.0.2.100"), IPv4Address("192.0.2.150"))
RELAYED_NET = IPv4Network("198.18.0.0/16")


def config_text(link: VethLink, store: Path) -> str:
    return f"""
server:
  interfaces: [{link.server_if}]
  listen_address: 0.0.0.0
  port: 67
  client_port: 68
lease_store: {{type: sqlite, path: {store}}}
logging: {{level: debug, format: json}}
options:
  domain_name_servers: [192.0.2.53]
subnets:
  - subnet: 192.0.2.0/24
    pools: [{{range: {POOL[0]}-{POOL[1]}}}]
    lease_time: 30
    renew_timer: 4
    rebind_timer: 20
    options: {{routers: [192.0.2.1]}}
  - subnet: {RELAYED_NET}
    pools: [{{range: 198.18.1.1-198.18.1.200}}]
    lease_time: 600
"""


@dataclass
class Served:
    link: VethLink
    daemon: Daemon
    store: Path

    def lease_state(self, address: str) -> int | None:
        with sqlite3.connect(self.store) as db:
            row = db.execute(
                "SELECT state FROM leases WHERE address = ?", (int(IPv4Address(address)),)
            ).fetchone()
        return None if row is None else int(row[0])


def _require(*tools: str) -> None:
    missing = missing_tools(*tools)
    if missing:
        message = f"missing tools: {', '.join(missing)} (scripts/test.sh installs them)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _serve(link: VethLink) -> Served:
    store = link.tmpdir / "leases.sqlite3"
    config = link.tmpdir / "dhcpd.yaml"
    config.write_text(config_text(link, store))
    daemon = Daemon(config, prefix=link.server_ns.exec_prefix()).start()
    return Served(link, daemon, store)


@contextlib.contextmanager
def _serving(link: VethLink) -> Iterator[Served]:
    """The daemon on the server end of `link`; both torn down afterwards."""
    try:
        serving = _serve(link)
        try:
            yield serving
        finally:
            serving.daemon.stop()
    finally:
        link.close()


@pytest.fixture
def served() -> Iterator[Served]:
    with _serving(make_pair("dhcpd-it")) as serving:
        yield serving


@pytest.fixture
def relayed() -> Iterator[Served]:
    with _serving(make_relay_pair("dhcpd-rl")) as serving:
        yield serving


def test_udhcpc_gets_a_lease_that_is_stored(served: Served) -> None:
    _require("udhcpc")
    lease = udhcpc_lease(served.link.client_ns, served.link.client_if)
    assert lease.address is not None
    address = IPv4Address(lease.address)
    assert POOL[0] <= address <= POOL[1]
    assert lease.server_id == "192.0.2.1"
    assert lease.lease_time == 30
    assert lease.routers == ("192.0.2.1",)
    assert served.lease_state(lease.address) == 0  # ACTIVE
    committed = served.daemon.wait_for_event("lease_committed", 5)
    assert committed["client"] == served.link.client_mac
    assert committed["interface"] == served.link.server_if


def test_udhcpc_release_frees_the_lease(served: Served) -> None:
    _require("udhcpc")
    lease = udhcpc_lease(served.link.client_ns, served.link.client_if, release=True)
    served.daemon.wait_for_event("lease_released", 10)
    assert lease.address is not None
    assert served.lease_state(lease.address) == 1  # RELEASED


def test_udhcpc_gets_the_same_address_again(served: Served) -> None:
    _require("udhcpc")
    first = udhcpc_lease(served.link.client_ns, served.link.client_if)
    second = udhcpc_lease(served.link.client_ns, served.link.client_if)
    assert first.address == second.address


def test_dhclient_binds_renews_by_unicast_and_releases(served: Served) -> None:
    _require("dhclient")
    with Dhclient(served.link.client_ns, served.link.client_if) as client:  # starts it
        bound = client.wait_for({"BOUND"}, timeout=30)
        address = bound.lease().address
        assert address is not None
        assert POOL[0] <= IPv4Address(address) <= POOL[1]
        # T1 is 4 s: dhclient renews by unicast to us (RENEWING, ciaddr set).
        renewed = client.wait_for({"RENEW"}, timeout=30)
        assert renewed.lease().address == address
        renewing = [
            e for e in served.daemon.events()
            if e.get("event") == "lease_committed" and e.get("state") == "renewing"
        ]
        assert renewing and renewing[0]["outcome"] == "renewed"
        client.release()
    served.daemon.wait_for_event("lease_released", 10)
    assert served.lease_state(address) == 1


def test_relayed_exchange_replies_to_the_relay(relayed: Served) -> None:
    _require("perfdhcp")
    result = perfdhcp_exchange(
        relayed.link.client_ns, RELAY_ADDR, relayed.link.server_ip or "192.0.2.1", count=5,
    )
    assert result.ack_received == 5, result.output
    assert result.incomplete == 0
    with sqlite3.connect(relayed.store) as db:
        addresses = [IPv4Address(row[0]) for row in db.execute("SELECT address FROM leases")]
    assert len(addresses) == 5
    assert all(address in RELAYED_NET for address in addresses)


def test_offer_and_ack_are_unicast_to_a_client_without_broadcast_flag(served: Served) -> None:
    """RFC 2131 section 4.1: yiaddr at chaddr, via the ARP entry the daemon installs."""
    _require("udhcpc", "tshark")
    link = served.link
    with Capture(link.server_ns, link.server_if, "udp src port 67") as capture:
        lease = udhcpc_lease(link.client_ns, link.client_if)
    rows = capture.fields(["ip.dst", "eth.dst", "dhcp.flags.bc", "dhcp.option.dhcp"])
    assert rows, "no reply captured"
    for ip_dst, eth_dst, broadcast_flag, _kind in rows:
        assert broadcast_flag in ("0", "False")
        assert ip_dst == lease.address
        assert eth_dst == link.client_mac


def test_without_cap_net_admin_the_unicast_goes_out_as_a_raw_frame() -> None:
    """As in a container that grants CAP_NET_RAW but not CAP_NET_ADMIN (Docker's
    default): no ARP entry can be installed, so the daemon builds the IP and UDP
    headers itself and sends the frame to chaddr (RFC 2131 section 4.1) rather
    than broadcasting. udhcpc checks the checksums of what it receives."""
    _require("udhcpc", "tshark", "setpriv")
    link = make_pair("dhcpd-raw")
    try:
        store = link.tmpdir / "leases.sqlite3"
        config = link.tmpdir / "dhcpd.yaml"
        config.write_text(config_text(link, store))
        # A reduced bounding set: the daemon, although root, starts without CAP_NET_ADMIN.
        prefix = [*link.server_ns.exec_prefix(), "setpriv", "--bounding-set=-net_admin"]
        daemon = Daemon(config, prefix=prefix).start()
        try:
            with Capture(link.server_ns, link.server_if, "udp src port 67") as capture:
                lease = udhcpc_lease(link.client_ns, link.client_if)
            failed = daemon.wait_for_event("arp_entry_failed", 5)
        finally:
            daemon.stop()
        assert failed["fallback"] == "raw frame, else broadcast"
        assert not [e for e in daemon.events() if e.get("event") == "raw_send_failed"]
        rows = capture.fields(["ip.dst", "eth.dst", "dhcp.flags.bc", "udp.checksum.status"])
        assert len(rows) >= 2, f"expected an OFFER and an ACK, captured {rows}"
        for ip_dst, eth_dst, broadcast_flag, _checksum in rows:
            assert broadcast_flag in ("0", "False")
            assert ip_dst == lease.address
            assert eth_dst == link.client_mac
    finally:
        link.close()


def test_a_real_client_while_paused_continued_reloaded_and_stopped(served: Served) -> None:
    """What udhcpc sees across SIGUSR1 (pause), SIGUSR2, SIGHUP (new pool) and SIGTERM."""
    _require("udhcpc")
    import signal as signals

    from tests.integration.netns import NetnsError

    link, daemon = served.link, served.daemon
    daemon.signal(signals.SIGUSR1)
    daemon.wait_for_event("server_paused", 5)
    with pytest.raises(NetnsError):
        udhcpc_lease(link.client_ns, link.client_if, timeout=4)  # no answer while paused
    daemon.signal(signals.SIGUSR2)
    daemon.wait_for_event("server_continued", 5)
    first = udhcpc_lease(link.client_ns, link.client_if)
    assert first.address is not None

    config = daemon.config_path
    config.write_text(config.read_text().replace(
        f"{POOL[0]}-{POOL[1]}", "192.0.2.200-192.0.2.210"))
    daemon.signal(signals.SIGHUP)
    daemon.wait_for_event("config_reloaded", 5)
    other = udhcpc_lease(link.client_ns, link.client_if, client_id="ff00000000000000aa")
    assert other.address is not None
    assert IPv4Address("192.0.2.200") <= IPv4Address(other.address) <= IPv4Address("192.0.2.210")

    assert daemon.stop() == 0
    assert served.lease_state(first.address) == 0 and served.lease_state(other.address) == 0
