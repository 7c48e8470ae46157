"""Conflict detection against a real address holder, in network namespaces.

The client end of the veth pair also holds 192.0.2.100 (the first pool
address), so it answers the daemon's ping: the daemon must take that address
out of use (DECLINED, logged as address_conflict) and give udhcpc another.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from tests.daemon import Daemon
from tests.integration.netns import VethLink, make_pair, udhcpc_lease
from tests.integration.test_real_clients import POOL, Served, _require, config_text

REPO = Path(__file__).resolve().parents[2]
TAKEN = "192.0.2.100"  # == POOL[0]
NOBODY = "192.0.2.150"


def _conflict_config(link: VethLink, store: Path) -> str:
    return config_text(link, store).replace(
        "server:\n",
        "server:\n  conflict_detection: {attempts: 1, timeout_ms: 300}\n",
        1,
    )


@pytest.fixture
def conflicted() -> Iterator[Served]:
    link = make_pair("dhcpd-cd")
    try:
        link.client_ns.ip("addr", "add", f"{TAKEN}/24", "dev", link.client_if)
        store = link.tmpdir / "leases.sqlite3"
        config = link.tmpdir / "dhcpd.yaml"
        config.write_text(_conflict_config(link, store))
        daemon = Daemon(config, prefix=link.server_ns.exec_prefix()).start()
        try:
            yield Served(link, daemon, store)
        finally:
            daemon.stop()
    finally:
        link.close()


def test_conflict_udhcpc_is_not_given_an_address_that_answers_ping(conflicted: Served) -> None:
    _require("udhcpc")
    assert IPv4Address(TAKEN) == POOL[0]
    link = conflicted.link
    lease = udhcpc_lease(link.client_ns, link.client_if)
    assert lease.address is not None and lease.address != TAKEN
    assert POOL[0] < IPv4Address(lease.address) <= POOL[1]
    event = conflicted.daemon.wait_for_event("address_conflict", 5)
    assert event["address"] == TAKEN
    assert conflicted.lease_state(TAKEN) == 3  # DECLINED
    assert conflicted.lease_state(lease.address) == 0  # ACTIVE


_PROBE_SCRIPT = textwrap.dedent("""
    import asyncio, json, sys, time
    from ipaddress import IPv4Address
    from dhcpd.transport.icmp import IcmpProber

    async def main():
        prober = IcmpProber()
        results = {}
        try:
            for address in sys.argv[1:]:
                started = time.monotonic()
                answered = await prober.probe(IPv4Address(address), 1, 0.3)
                results[address] = [answered, time.monotonic() - started]
        finally:
            mode = prober.mode
            prober.close()
        print(json.dumps({"mode": mode, "results": results}))

    asyncio.run(main())
""")


def test_conflict_prober_tells_a_used_address_from_a_free_one(veth: VethLink) -> None:
    veth.client_ns.ip("addr", "add", f"{TAKEN}/24", "dev", veth.client_if)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = veth.server_ns.run(
        [sys.executable, "-c", _PROBE_SCRIPT, TAKEN, NOBODY], env=env, timeout=30,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["mode"] in ("raw", "datagram"), report
    answered, _ = report["results"][TAKEN]
    free, waited = report["results"][NOBODY]
    assert answered is True
    assert free is False
    assert waited < 1.0  # one attempt, 300 ms, then "free"
