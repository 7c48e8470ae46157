"""Self-checks of the namespace harness against the reference server Kea (kea-dhcp4).

Opt-in: ``DHCPD_TEST_KEA=1 python -m pytest tests/integration/test_harness_with_kea.py``.
These validate tests/integration/netns.py, not the server under development, so they
are not part of the normal suite and skip (never fail) without DHCPD_TEST_KEA=1.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from tests.integration.netns import (
    BOUND_REASONS,
    Capture,
    Dhclient,
    KeaServer,
    VethLink,
    make_kea_config,
    make_pair,
    make_relay_pair,
    missing_tools,
    perfdhcp_exchange,
    udhcpc_lease,
)

pytestmark = [pytest.mark.kea, pytest.mark.netns]

POOL = ipaddress.ip_network("192.0.2.0/24")


@pytest.fixture(autouse=True)
def _tools() -> None:
    missing = missing_tools("kea-dhcp4", "udhcpc", "dhclient", "perfdhcp", "tshark")
    if missing:
        pytest.fail(f"DHCPD_TEST_KEA=1 but tools are missing: {missing}")


@pytest.fixture
def kea_link() -> Iterator[tuple[VethLink, KeaServer]]:
    link = make_pair("kea")
    try:
        cfg = make_kea_config(link.server_if, routers=["192.0.2.1"])
        kea = KeaServer(link.server_ns, cfg, workdir=link.tmpdir / "kea").start()
        yield link, kea
        assert kea.proc is not None and kea.proc.poll() is None, kea.log()
    finally:
        link.close()


def _in_pool(addr: str | None) -> bool:
    assert addr is not None
    a = ipaddress.ip_address(addr)
    return a in POOL and 100 <= int(a) - int(POOL.network_address) <= 200


def test_udhcpc_gets_lease(kea_link: tuple[VethLink, KeaServer]) -> None:
    link, _ = kea_link
    with Capture(
        link.client_ns, link.client_if, "udp port 67 or udp port 68", workdir=link.tmpdir
    ) as cap:
        lease = udhcpc_lease(link.client_ns, link.client_if, timeout=30)
    assert _in_pool(lease.address)
    assert lease.server_id == "192.0.2.1"
    assert lease.lease_time == 20
    assert lease.subnet_mask == "255.255.255.0"
    assert lease.routers == ("192.0.2.1",)
    # udhcpc: DISCOVER, OFFER, REQUEST, ACK; no broadcast flag unless -B
    rows = cap.fields(["dhcp.option.dhcp", "dhcp.flags.bc"], display_filter="dhcp")
    assert [r[0] for r in rows] == ["1", "2", "3", "5"], rows
    assert all(r[1] in ("0", "False") for r in rows), rows


def test_udhcpc_requests_address_and_releases(kea_link: tuple[VethLink, KeaServer]) -> None:
    link, _ = kea_link
    with Capture(
        link.client_ns, link.client_if, "udp port 67 or udp port 68", workdir=link.tmpdir
    ) as cap:
        lease = udhcpc_lease(
            link.client_ns,
            link.client_if,
            request_addr="192.0.2.150",
            client_id="01aabbccddeeff",
            release=True,
        )
    assert lease.address == "192.0.2.150"
    # tshark shows a type-1 client identifier as a second dhcp.hw.mac_addr value
    rows = cap.fields(
        [
            "dhcp.option.dhcp",
            "ip.src",
            "ip.dst",
            "dhcp.hw.mac_addr",
            "dhcp.option.requested_ip_address",
        ],
        display_filter="dhcp",
    )
    types = [r[0] for r in rows]
    assert types == ["1", "2", "3", "5", "7"], rows  # DHCPRELEASE sent on SIGTERM with -R
    assert rows[0][4] == "192.0.2.150", rows
    assert rows[-1][1:3] == ["192.0.2.150", "192.0.2.1"], rows  # release is unicast
    assert all("aa:bb:cc:dd:ee:ff" in r[3] for r in rows if r[0] in ("1", "3", "7")), rows


def test_dhclient_binds_renews_releases(kea_link: tuple[VethLink, KeaServer]) -> None:
    link, _ = kea_link
    with (
        Capture(
            link.client_ns, link.client_if, "udp port 67 or udp port 68", workdir=link.tmpdir
        ) as cap,
        Dhclient(link.client_ns, link.client_if, workdir=link.tmpdir / "dhclient") as dh,
    ):
        bound = dh.wait_for(BOUND_REASONS, timeout=30)
        assert bound.reason == "BOUND"
        assert _in_pool(bound.address)
        assert bound.server_id == "192.0.2.1"
        assert bound.lease_time == 20
        assert bound.subnet_mask == "255.255.255.0"
        assert bound.routers == ("192.0.2.1",)
        addrs = link.client_ns.run(["ip", "-4", "-br", "addr", "show", link.client_if])
        assert f"{bound.address}/24" in addrs.stdout
        renew = dh.wait_for({"RENEW"}, timeout=12)
        assert renew.address == bound.address
        res = dh.release()
        assert res.returncode == 0, res.stderr
        assert "RELEASE" in [e.reason for e in dh.events()]
        assert dh.proc is not None and dh.proc.poll() is not None
    rows = cap.fields(
        ["dhcp.option.dhcp", "ip.src", "ip.dst", "dhcp.flags.bc"], display_filter="dhcp"
    )
    # the renewal REQUEST and the RELEASE are unicast from the leased address
    unicast = [r for r in rows if r[1] == bound.address and r[2] == "192.0.2.1"]
    assert [r[0] for r in unicast][-1] == "7", rows
    assert any(r[0] == "3" for r in unicast), rows
    # ISC dhclient does not ask for broadcast replies
    assert all(r[3] in ("0", "False") for r in rows if r[0] in ("1", "3")), rows


def test_perfdhcp_relayed_exchange() -> None:
    with make_relay_pair("kea-rel") as link:
        cfg = make_kea_config(
            link.server_if,
            subnet="198.18.0.0/16",
            pool="198.18.0.10-198.18.255.250",
            valid_lifetime=3600,
            renew_timer=None,
            rebind_timer=None,
        )
        with (
            KeaServer(link.server_ns, cfg, workdir=link.tmpdir / "kea"),
            Capture(link.client_ns, link.client_if, "udp port 67", workdir=link.tmpdir) as cap,
        ):
            res = perfdhcp_exchange(link.client_ns, "198.18.0.2", "192.0.2.1", count=8, rate=20)
        assert res.discover_sent == 8
        assert res.offer_received == 8
        assert res.request_sent == 8
        assert res.ack_received == 8
        assert res.incomplete_pct == 0.0
        rows = cap.fields(["dhcp.option.dhcp", "ip.dst", "udp.dstport", "dhcp.ip.relay"], "dhcp")
        replies = [r for r in rows if r[0] in ("2", "5")]
        assert len(replies) == 16
        # replies go back to the relay (giaddr) on port 67
        assert all(r[1:] == ["198.18.0.2", "67", "198.18.0.2"] for r in replies), replies
