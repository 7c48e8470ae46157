"""Callouts in the real daemon process: START, the hooks of a DORA, reload, STOP."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

from dhcpd.hooks import ControlCode, DropReason, OfferKind
from tests.daemon import Daemon, Relay
from tests.process.test_daemon_loopback import RELAY, SERVER, dora, free_port, write_config


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_for(path: Path, predicate: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = records(path)
        if predicate(found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"not seen in time: {records(path)}")


def test_callout_sees_start_dora_reload_and_stop(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    log = tmp_path / "hooks.jsonl"
    callouts = (
        "callouts:\n  enabled: true\n  modules: [tests.hooks.recording_callout]\n"
        f"  settings: {{tests.hooks.recording_callout: {{path: {log}}}}}\n"
    )
    config.write_text(config.read_text() + callouts)
    daemon = Daemon(config).start()
    relay = Relay(RELAY, port, str(SERVER))
    try:
        wait_for(log, lambda r: r and r[0] == {"hook": "control", "code": ControlCode.START,
                                               "address": ""})
        address = dora(relay, 1)
        seen = wait_for(log, lambda r: sum(x["hook"] == "packet_send" for x in r) == 2)
        hooks = [r["hook"] for r in seen]
        assert hooks.count("new_packet") == 2 and hooks.count("handle_options") == 2
        offers = [r for r in seen if r["hook"] == "address_offer"]
        assert offers == [{"hook": "address_offer", "code": OfferKind.NEW,
                           "address": str(address)}]
        # Each packet ends with exactly one PROCESSED.
        wait_for(log, lambda r: [x["code"] for x in r if x["hook"] == "packet_drop"]
                 == [DropReason.PROCESSED, DropReason.PROCESSED])

        daemon.signal(signal.SIGHUP)  # callouts reload: STOP, then START again
        wait_for(log, lambda r: [x["code"] for x in r if x["hook"] == "control"]
                 == [ControlCode.START, ControlCode.STOP, ControlCode.START])
    finally:
        relay.close()
        assert daemon.stop() == 0
    controls = [r["code"] for r in records(log) if r["hook"] == "control"]
    assert controls == [ControlCode.START, ControlCode.STOP, ControlCode.START, ControlCode.STOP]
