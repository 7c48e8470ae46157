"""callouts/a_fanout.py: loaded first, it runs the chained modules and its own counter."""

from __future__ import annotations

import json
from pathlib import Path

from structlog.testing import capture_logs

from dhcpd.hooks import ControlCode, ControlEvent
from dhcpd.hooks.loader import load_callouts
from dhcpd.wire import MessageType
from tests.callouts.conftest import callout_path
from tests.factories import request
from tests.hooks.test_hook_points import World


async def test_fanout_loads_first_and_runs_both_chained_modules(tmp_path: Path) -> None:
    macs = tmp_path / "macs.txt"
    macs.write_text("MAC_ACTION = {DENY}\n02:00:00:00:00:01\n")
    audit = tmp_path / "audit.jsonl"
    fanout, mac_filter, audit_log = (callout_path(n) for n in (
        "a_fanout", "mac_filter", "audit_log"))
    # Listed in the documented (unsorted) order; the loader sorts them.
    report = load_callouts([fanout, mac_filter, audit_log], {
        mac_filter: {"list_file": str(macs)},
        audit_log: {"path": str(audit)},
    })
    assert report.active is not None and report.active.entry == fanout
    assert report.active.chain == (audit_log, mac_filter)
    w = World(report.active.table)
    await w.dispatcher.call("control", ControlEvent(ControlCode.START))

    with capture_logs() as logs:
        assert await w.receive(request(MessageType.DISCOVER, 1)) is None  # the MAC filter
        address = await w.dora(2)  # served, and audited
        await w.receive(b"not a dhcp packet")
        await w.dispatcher.call("control", ControlEvent(ControlCode.STOP))

    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["event"], r["address"], r["hw_address"]) for r in records] == [
        ("lease_granted", str(address), "02:00:00:00:00:02")]
    assert [e["mac"] for e in logs if e["event"] == "mac_filter_refused"] == [
        "02:00:00:00:00:01"]
    summary = next(e for e in logs if e["event"] == "fanout_summary")
    assert summary["packets"] == {"DISCOVER": 2, "INVALID": 1, "REQUEST": 1}
    assert summary["total"] == 4
    assert summary["chain"] == [audit_log, mac_filter]


async def test_a_chained_module_that_refuses_is_left_out(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    fanout, mac_filter, audit_log = (callout_path(n) for n in (
        "a_fanout", "mac_filter", "audit_log"))
    with capture_logs() as logs:
        # No list_file for the MAC filter: it refuses; the fan-out and the audit log go on.
        report = load_callouts([fanout, mac_filter, audit_log],
                               {audit_log: {"path": str(audit)}})
    assert report.active is not None and report.active.entry == fanout
    failed = [e for e in logs if e["event"] == "callout_chain_load_failed"]
    assert [e["module"] for e in failed] == [mac_filter]
    w = World(report.active.table)
    await w.dora(1)
    assert len(audit.read_text().splitlines()) == 1


async def test_dotted_names_work_the_same(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    report = load_callouts(["callouts.audit_log", "callouts.a_fanout"],
                           {"callouts.audit_log": {"path": str(audit)}})
    assert report.active is not None and report.active.entry == "callouts.a_fanout"
    w = World(report.active.table)
    await w.dora(1)
    assert json.loads(audit.read_text())["event"] == "lease_granted"
