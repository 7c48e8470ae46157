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


PAUSE_AND_HANG = '''
import time
from dhcpd.hooks import HookTable, ControlCode
LOG = {path!r}
def dhcp_server_callout_entry(chain, api_version, settings):
    def note(text):
        with open(LOG, "a") as f:
            f.write(text + "\\n")
    def control(event):
        note("control " + event.code.name)
    def new_packet(event):
        note("new_packet")
    def packet_drop(event):
        note("drop " + event.reason.name)
    def address_offer(event):
        time.sleep(30)  # hangs in its thread, far past its deadline
    return HookTable(control=control, new_packet=new_packet, packet_drop=packet_drop,
                     address_offer=address_offer)
'''


def test_pause_reaches_the_callout_and_a_hung_plain_hook_does_not_block_exit(
    tmp_path: Path,
) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    log = tmp_path / "events.txt"
    module = tmp_path / "pausing.py"
    module.write_text(PAUSE_AND_HANG.format(path=str(log)))
    config.write_text(config.read_text() + (
        f"callouts:\n  enabled: true\n  modules: [{module}]\n"
        "  deadlines: {address_offer: 0.2}\n"
    ))
    daemon = Daemon(config).start()
    relay = Relay(RELAY, port, str(SERVER))

    def lines() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    def wait(predicate: Any) -> list[str]:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if predicate(lines()):
                return lines()
            time.sleep(0.05)
        raise AssertionError(lines())

    try:
        wait(lambda found: "control START" in found)
        daemon.signal(signal.SIGUSR1)
        wait(lambda found: "control PAUSE" in found)
        from dhcpd.wire import MessageType
        from tests.factories import request

        assert relay.exchange(request(MessageType.DISCOVER, 9, giaddr=relay.address)) is None
        # Paused packets still reach new_packet, then are dropped with PAUSED.
        found = wait(lambda found: "drop PROCESSED" in found)
        assert found[found.index("control PAUSE") + 1:] == [
            "new_packet", "drop PAUSED", "drop PROCESSED"]
        daemon.signal(signal.SIGUSR2)
        wait(lambda found: "control CONTINUE" in found)
        # The address_offer hook hangs: the reply is sent after its deadline
        # (on_timeout: continue), and the daemon still exits promptly.
        offer = relay.exchange(request(MessageType.DISCOVER, 9, giaddr=relay.address))
        assert offer is not None
        ack = relay.exchange(request(MessageType.REQUEST, 9, giaddr=relay.address,
                                     requested=offer.yiaddr, server_id=SERVER))
        assert ack is not None and ack.message_type is MessageType.ACK
    finally:
        relay.close()
        started = time.monotonic()
        code = daemon.stop(timeout=15)
    assert code == 0 and time.monotonic() - started < 10
    assert "control STOP" in lines()
