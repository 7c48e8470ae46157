"""End to end: the real daemon on loopback with the fan-out, the MAC filter and the audit log.

No root needed: the daemon listens on 127.0.0.1, a fake relay on 127.0.0.2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dhcpd.wire import MessageType
from tests.callouts.conftest import REPO, callout_path
from tests.daemon import Daemon, Relay
from tests.factories import request
from tests.process.test_daemon_loopback import RELAY, SERVER, dora, free_port, write_config


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def relay(port: int) -> Iterator[Relay]:
    agent = Relay(RELAY, port, str(SERVER))
    yield agent
    agent.close()


def test_denied_mac_gets_no_offer_and_the_served_one_is_audited(
    tmp_path: Path, port: int, relay: Relay
) -> None:
    macs = tmp_path / "macs.txt"
    macs.write_text("MAC_ACTION = {DENY}\n02:00:00:00:00:01\n")
    audit = tmp_path / "audit.jsonl"
    fanout, mac_filter, audit_log = (callout_path(n) for n in (
        "a_fanout", "mac_filter", "audit_log"))
    config = write_config(tmp_path, port)
    callouts = {
        "enabled": True,
        "modules": [fanout, mac_filter, audit_log],
        "settings": {mac_filter: {"list_file": str(macs)}, audit_log: {"path": str(audit)}},
    }
    # JSON is YAML: one line appended to the loopback tests' configuration.
    config.write_text(config.read_text() + f"callouts: {json.dumps(callouts)}\n")
    daemon = Daemon(config, env={"PYTHONPATH": str(REPO)}).start()
    try:
        loaded = daemon.wait_for_event("callout_loaded", 5)
        assert loaded["module"] == fanout and loaded["chain"] == [audit_log, mac_filter]
        denied = relay.exchange(request(MessageType.DISCOVER, 1, xid=1, giaddr=relay.address))
        assert denied is None
        refused = daemon.wait_for_event("mac_filter_refused", 5)
        assert refused["mac"] == "02:00:00:00:00:01"
        address = dora(relay, 2)
        records = [json.loads(line) for line in audit.read_text().splitlines()]
        assert [(r["event"], r["address"], r["hw_address"], r["relay"]) for r in records] == [
            ("lease_granted", str(address), "02:00:00:00:00:02", RELAY)]
    finally:
        assert daemon.stop() == 0
    summary = daemon.wait_for_event("fanout_summary", 1)
    assert summary["packets"] == {"DISCOVER": 2, "REQUEST": 1}
