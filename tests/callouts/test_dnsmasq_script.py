"""callouts/dnsmasq_script.py with real shell scripts: arguments, environment, hazards."""

from __future__ import annotations

import asyncio
import stat
import time
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from callouts.dnsmasq_script import (
    ScriptJob,
    ScriptRunner,
    describe_packet,
    format_mac,
    user_classes,
)
from dhcpd.hooks import ControlCode, ControlEvent
from dhcpd.hooks.loader import CalloutLoadError, call_entry
from dhcpd.wire import MessageType
from tests.callouts.conftest import callout_path
from tests.factories import SERVER_ADDRESS, request
from tests.hooks.test_hook_points import World

RECORDER = """#!/bin/sh
{
  echo "ARGS $*"
  env | grep '^DNSMASQ_' | sort
  echo "END"
} >> "%s"
"""


def make_script(path: Path, body: str) -> Path:
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies left to a non-reaping init don't)."""
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


async def wait_group_gone(pgid: int) -> None:
    for _ in range(60):
        if not group_alive(pgid):
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"process group {pgid} survived")


def recorder(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "calls.txt"
    return make_script(tmp_path / "lease.sh", RECORDER % out), out


def calls(out: Path) -> list[tuple[list[str], dict[str, str]]]:
    """[(args, DNSMASQ_* env)] per run of the recorder script."""
    runs: list[tuple[list[str], dict[str, str]]] = []
    if not out.exists():
        return runs
    args: list[str] = []
    env: dict[str, str] = {}
    for line in out.read_text().splitlines():
        if line.startswith("ARGS"):
            args, env = line.split()[1:], {}
        elif line == "END":
            runs.append((args, env))
        else:
            name, _, value = line.partition("=")
            env[name] = value
    return runs


async def test_add_old_and_del_with_dnsmasq_arguments_and_environment(tmp_path: Path) -> None:
    script, out = recorder(tmp_path)
    runner = ScriptRunner(script)
    w = World(runner.table())
    await w.dispatcher.call("control", ControlEvent(ControlCode.START))
    hello = ((12, b"laptop"), (60, b"MSFT 5.0"), (77, b"\x03abc\x02de"))
    client_id = b"\x01\x02\x00\x00\x00\x00\x01"
    offer = await w.receive(request(MessageType.DISCOVER, 1, extra=hello, client_id=client_id))
    assert offer is not None
    before = int(time.time())
    ack = await w.receive(request(MessageType.REQUEST, 1, requested=offer.yiaddr,
                                  server_id=SERVER_ADDRESS, extra=hello,
                                  client_id=client_id))
    assert ack is not None and ack.message_type is MessageType.ACK
    address = str(ack.yiaddr)
    ack = await w.receive(request(MessageType.REQUEST, 1, ciaddr=ack.yiaddr,
                                  client_id=client_id), unicast=True)
    assert ack is not None and ack.message_type is MessageType.ACK
    await w.receive(request(MessageType.RELEASE, 1, ciaddr=ack.yiaddr, server_id=SERVER_ADDRESS,
                            client_id=client_id))
    # Its record deleted later: no second del for the same lease.
    await w.h.leases.reclaim(time.time() + 3600 + 1)
    await w.dispatcher.call("control", ControlEvent(ControlCode.STOP))

    runs = calls(out)
    assert [args for args, _ in runs] == [
        ["add", "02:00:00:00:00:01", address, "laptop"],
        ["old", "02:00:00:00:00:01", address],
        ["del", "02:00:00:00:00:01", address],
    ]
    add, old, release = (env for _, env in runs)
    assert add["DNSMASQ_LEASE_LENGTH"] == "3600"
    assert before + 3600 <= int(add["DNSMASQ_LEASE_EXPIRES"]) <= int(time.time()) + 3600
    assert add["DNSMASQ_TIME_REMAINING"] == "3600"
    assert add["DNSMASQ_CLIENT_ID"] == "01:02:00:00:00:00:01"
    assert add["DNSMASQ_INTERFACE"] == "veth0"  # the name, kept from new_packet
    assert add["DNSMASQ_INTERFACE_ADDRESS"] == str(SERVER_ADDRESS)
    assert add["DNSMASQ_SUPPLIED_HOSTNAME"] == "laptop"
    assert add["DNSMASQ_REQUESTED_OPTIONS"] == "1,3,6,15"
    assert add["DNSMASQ_VENDOR_CLASS"] == "MSFT 5.0"
    assert (add["DNSMASQ_USER_CLASS0"], add["DNSMASQ_USER_CLASS1"]) == ("abc", "de")
    assert add["DNSMASQ_TAGS"] == ""
    assert "DNSMASQ_RELAY_ADDRESS" not in add
    assert old["DNSMASQ_TIME_REMAINING"] == "3600"
    assert "DNSMASQ_LEASE_EXPIRES" not in release and "DNSMASQ_TIME_REMAINING" not in release
    assert release["DNSMASQ_CLIENT_ID"] == "01:02:00:00:00:00:01"
    assert runner.ran == 3 and runner.failed == 0


async def test_decline_and_an_expired_lease_get_del(tmp_path: Path) -> None:
    script, out = recorder(tmp_path)
    runner = ScriptRunner(script)
    w = World(runner.table())
    runner.start()
    first = await w.dora(1)
    await w.receive(request(MessageType.DECLINE, 1, requested=first, server_id=SERVER_ADDRESS))
    second = await w.dora(2)
    # NAK: nothing ends, nothing runs.
    await w.receive(request(MessageType.REQUEST, 3, requested=IPv4Address("203.0.113.5")))
    now = time.time()
    await w.h.leases.reclaim(now + 3600 + 1)  # the second lease expires...
    await w.h.leases.reclaim(now + 3600 + 1 + w.h.config.server.hold_reclaimed_time + 700)
    await runner.stop()
    assert [args for args, _ in calls(out)] == [
        ["add", "02:00:00:00:00:01", str(first)],
        ["del", "02:00:00:00:00:01", str(first)],
        ["add", "02:00:00:00:00:02", str(second)],
        ["del", "02:00:00:00:00:02", str(second)],  # ... and is deleted: delete_client
    ]


async def test_a_hanging_script_is_killed_after_the_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = make_script(tmp_path / "hang.sh", f"#!/bin/sh\necho $$ > {pidfile}\nsleep 30\n")
    runner = ScriptRunner(script, timeout=0.5)
    started = time.monotonic()
    with capture_logs() as logs:
        status = await runner.run(ScriptJob("add", ("02:00:00:00:00:01", "192.0.2.100"), {}))
    assert status is None and runner.timed_out == 1
    assert time.monotonic() - started < 5
    assert any(e["event"] == "dnsmasq_script_timeout" for e in logs)
    # The whole process group is gone, the sleep included.
    await wait_group_gone(int(pidfile.read_text()))


async def test_a_failing_script_is_logged_and_the_worker_goes_on(tmp_path: Path) -> None:
    script = make_script(tmp_path / "fail.sh", "#!/bin/sh\necho oops >&2\nexit 3\n")
    runner = ScriptRunner(script)
    runner.start()
    with capture_logs() as logs:
        for n in (1, 2):
            runner.enqueue(ScriptJob("add", (f"02:00:00:00:00:0{n}", "192.0.2.100"), {}))
        await runner.stop()
    exits = [e for e in logs if e["event"] == "dnsmasq_script_exit"]
    assert [(e["status"], e["output"]) for e in exits] == [(3, "oops"), (3, "oops")]
    assert runner.ran == 2 and runner.failed == 2


async def test_a_full_queue_drops_counts_and_warns(tmp_path: Path) -> None:
    script, out = recorder(tmp_path)
    runner = ScriptRunner(script, queue_size=2)
    w = World(runner.table())  # no START: nothing is taken off the queue yet
    with capture_logs() as logs:
        for n in (1, 2, 3, 4):
            await w.dora(n)
    assert runner.dropped == 2 and runner.queue.qsize() == 2
    warnings = [e for e in logs if e["event"] == "dnsmasq_script_queue_full"]
    assert warnings and warnings[0]["dropped"] == 1 and warnings[0]["log_level"] == "warning"
    # The hooks did not wait for any script: the exchanges completed regardless.
    runner.start()
    await runner.stop()
    assert [args[1] for args, _ in calls(out)] == ["02:00:00:00:00:01", "02:00:00:00:00:02"]


async def test_stop_drains_with_a_deadline_and_kills_what_runs(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = make_script(tmp_path / "hang.sh", f"#!/bin/sh\necho $$ > {pidfile}\nsleep 30\n")
    runner = ScriptRunner(script, timeout=60, drain_timeout=0.3)
    runner.start()
    for n in (1, 2, 3):
        runner.enqueue(ScriptJob("add", (f"02:00:00:00:00:0{n}", "192.0.2.100"), {}))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    with capture_logs() as logs:
        await runner.stop()
    assert time.monotonic() - started < 3
    assert runner.worker is None and runner.queue.empty()
    events = {e["event"]: e for e in logs}
    assert "dnsmasq_script_drain_timeout" in events
    assert events["dnsmasq_script_discarded"]["count"] == 2
    await wait_group_gone(int(pidfile.read_text()))  # the running script was killed


def test_describe_packet_relay_and_fqdn() -> None:
    fqdn = bytes([0x01, 0, 0]) + b"pc7.example.org"
    packet = request(MessageType.REQUEST, 7, giaddr=IPv4Address("192.0.2.254"),
                     extra=((81, fqdn), (77, b"plain-windows-class"))).encode()
    mac, hostname, env = describe_packet(packet)
    assert (mac, hostname) == ("02:00:00:00:00:07", "pc7")
    assert env["DNSMASQ_RELAY_ADDRESS"] == "192.0.2.254"
    assert env["DNSMASQ_DOMAIN"] == "example.org"
    assert env["DNSMASQ_USER_CLASS0"] == "plain-windows-class"
    assert format_mac(6, bytes.fromhex("0123456789ab")) == "06-01:23:45:67:89:ab"
    assert user_classes(b"\x01a\x02bc") == [b"a", b"bc"]


def test_the_entry_function_checks_its_settings(tmp_path: Path) -> None:
    entry = callout_path("dnsmasq_script")
    script, _ = recorder(tmp_path)
    plain = tmp_path / "plain.sh"
    plain.write_text("#!/bin/sh\n")
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "'script'"),
        ({"script": "lease.sh"}, "absolute"),
        ({"script": str(plain)}, "not an executable"),
        ({"script": str(script), "timeout": 0}, "'timeout'"),
        ({"script": str(script), "queue_size": 1.5}, "'queue_size'"),
    ]
    for settings, error in cases:
        with pytest.raises(CalloutLoadError, match=error):
            call_entry(entry, (), {entry: settings})
    table = call_entry(entry, (), {entry: {"script": str(script), "timeout": 2}})
    assert set(table.filled()) == {
        "control", "new_packet", "address_offer", "address_del", "delete_client"}


async def test_stop_abandoned_at_the_control_deadline_still_kills_the_script(
    tmp_path: Path,
) -> None:
    from dhcpd.hooks.dispatcher import HookPolicy

    pidfile = tmp_path / "pid"
    script = make_script(tmp_path / "hang.sh", f"#!/bin/sh\necho $$ > {pidfile}\nsleep 30\n")
    runner = ScriptRunner(script, timeout=60, drain_timeout=30)
    w = World(runner.table(), control=HookPolicy(deadline=0.3))
    await w.dispatcher.call("control", ControlEvent(ControlCode.START))
    runner.enqueue(ScriptJob("add", ("02:00:00:00:00:01", "192.0.2.100"), {}))
    for _ in range(40):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await w.dispatcher.call("control", ControlEvent(ControlCode.STOP))
    assert time.monotonic() - started < 2
    assert w.dispatcher.stats()["control"]["timeouts"] == 1
    await wait_group_gone(int(pidfile.read_text()))
