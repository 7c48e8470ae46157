"""callouts/audit_log.py: JSON lines for DORA, renew, release, decline, NAK and deletion."""

from __future__ import annotations

import json
import threading
import time
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from callouts.audit_log import AuditLog, packet_fields
from dhcpd.hooks import ControlCode, ControlEvent
from dhcpd.hooks.loader import CalloutLoadError, call_entry
from dhcpd.wire import MessageType
from tests.callouts.conftest import callout_path
from tests.factories import SERVER_ADDRESS, request
from tests.hooks.test_hook_points import World


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_dora_renew_release_and_deletion_are_logged(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    w = World(call_entry(callout_path("audit_log"), (), {
        callout_path("audit_log"): {"path": str(path)}}))
    address = await w.dora(1)
    ack = await w.receive(request(MessageType.REQUEST, 1, ciaddr=address,
                                  extra=((12, b"laptop"),)), unicast=True)
    assert ack is not None and ack.message_type is MessageType.ACK
    await w.receive(request(MessageType.RELEASE, 1, ciaddr=address, server_id=SERVER_ADDRESS))
    await w.h.leases.reclaim(time.time() + 3600 + 1)
    await w.dispatcher.call("control", ControlEvent(ControlCode.STOP))

    records = lines(path)
    assert [r["event"] for r in records] == [
        "lease_granted", "lease_renewed", "lease_released", "lease_deleted"]
    assert {r["address"] for r in records} == {str(address)}
    assert {r["hw_address"] for r in records} == {"02:00:00:00:00:01"}
    granted, renewed, released, deleted = records
    assert granted["lease_time"] == 3600 and granted["client_kind"] == "DHCP"
    assert granted["interface_address"] == str(SERVER_ADDRESS)
    assert granted["xid"] == "0x00001234" and granted["relay"] is None
    assert renewed["hostname"] == "laptop" and granted["hostname"] is None
    assert released["interface_address"] == str(SERVER_ADDRESS)
    assert deleted["htype"] == 1 and deleted["client_kind"] == "DHCP"
    for record in records:
        assert record["time"].endswith("Z")


async def test_decline_and_nak_are_logged(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    w = World(AuditLog(path).table())
    address = await w.dora(1)
    await w.receive(request(MessageType.DECLINE, 1, requested=address, server_id=SERVER_ADDRESS))
    await w.receive(request(MessageType.REQUEST, 3, requested=IPv4Address("203.0.113.5")))
    records = lines(path)
    assert [r["event"] for r in records] == ["lease_granted", "lease_declined", "lease_nacked"]
    assert records[1]["address"] == str(address)
    assert records[2]["address"] == "203.0.113.5"


def test_packet_fields_with_client_id_and_relay() -> None:
    packet = request(MessageType.REQUEST, 1, giaddr=IPv4Address("192.0.2.254"),
                     client_id=b"\x01\x02\x00\x00\x00\x00\x01").encode()
    fields = packet_fields(packet)
    assert fields["client_id"] == "01020000000001"
    assert fields["relay"] == "192.0.2.254"
    assert packet_fields(b"garbage") == {}


def test_concurrent_writers_keep_lines_whole_and_rotation_reopens(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path)
    payload = "x" * 5000

    def write(n: int) -> None:
        for i in range(50):
            audit.write({"n": n, "i": i, "pad": payload})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(lines(path)) == 400
    path.rename(tmp_path / "audit.jsonl.1")  # logrotate moves it away
    audit.write({"after": "rotation"})
    assert lines(path) == [{"after": "rotation"}]
    audit.close()


def test_the_entry_function_needs_a_path_in_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(CalloutLoadError, match="'path'"):
        call_entry(callout_path("audit_log"), (), {})
    with pytest.raises(CalloutLoadError, match="does not exist"):
        call_entry(callout_path("audit_log"), (), {
            callout_path("audit_log"): {"path": str(tmp_path / "no" / "audit.jsonl")}})


async def test_the_hooks_are_plain_functions_run_off_the_event_loop(tmp_path: Path) -> None:
    import inspect

    table = AuditLog(tmp_path / "a.jsonl").table()
    for slot in table.filled():
        assert not inspect.iscoroutinefunction(getattr(table, slot)), slot
    seen: list[str] = []
    audit = AuditLog(tmp_path / "a.jsonl")
    original = audit.write

    def spy(record: Any) -> None:
        seen.append(threading.current_thread().name)
        original(record)

    audit.write = spy  # type: ignore[method-assign]
    w = World(audit.table())
    await w.dora(1)
    assert seen and all(name.startswith("callout") for name in seen)
