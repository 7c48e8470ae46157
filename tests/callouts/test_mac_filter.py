"""callouts/mac_filter.py through the in-memory pipeline, with real list files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from callouts.mac_filter import MacAction, MacFilter, parse_list, parse_mac
from dhcpd.hooks import CalloutRefused
from dhcpd.hooks.loader import CalloutLoadError, call_entry
from dhcpd.wire import MessageType
from tests.callouts.conftest import callout_path
from tests.factories import request
from tests.hooks.test_hook_points import World


def write_list(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


async def offered(world: World, n: int) -> bool:
    reply = await world.receive(request(MessageType.DISCOVER, n))
    return reply is not None and reply.message_type is MessageType.OFFER


async def test_deny_refuses_listed_clients_and_serves_the_others(tmp_path: Path) -> None:
    listed = write_list(tmp_path / "macs.txt", "MAC_ACTION = {DENY}\n02:00:00:00:00:01\n")
    mac_filter = MacFilter(listed)
    w = World(mac_filter.table())
    with capture_logs() as logs:
        assert not await offered(w, 1)
        assert await offered(w, 2)
    refused = [e for e in logs if e["event"] == "mac_filter_refused"]
    assert [(e["mac"], e["action"]) for e in refused] == [("02:00:00:00:00:01", "DENY")]
    assert mac_filter.refused == 1


async def test_allow_serves_only_listed_clients_in_every_format(tmp_path: Path) -> None:
    listed = write_list(tmp_path / "macs.txt", """
# leading comments and blank lines are fine

MAC_ACTION={ALLOW}
02-00-00-00-00-02
020000000003   # inline comment
02:00:00:00:00:04
""")
    w = World(MacFilter(listed).table())
    assert [await offered(w, n) for n in (1, 2, 3, 4, 5)] == [False, True, True, True, False]
    # A served client completes its whole exchange.
    assert await w.dora(2)


async def test_bad_lines_are_logged_with_their_number_and_skipped(tmp_path: Path) -> None:
    listed = write_list(tmp_path / "macs.txt",
                        "MAC_ACTION = {DENY}\nnot-a-mac\n02:00:00:00:00:01\n02:00:00:00:01\n")
    with capture_logs() as logs:
        mac_filter = MacFilter(listed)
    bad = [(e["line"], e["text"]) for e in logs if e["event"] == "mac_filter_bad_line"]
    assert bad == [(2, "not-a-mac"), (4, "02:00:00:00:01")]
    assert mac_filter.rules.macs == {bytes.fromhex("020000000001")}


@pytest.mark.parametrize("text", [
    "MAC_ACTION = {MAYBE}\n02:00:00:00:00:01\n",
    "02:00:00:00:00:01\n",  # no action line at all
    "",
])
async def test_a_bad_action_line_disables_the_filter_and_logs_an_error(
    tmp_path: Path, text: str
) -> None:
    listed = write_list(tmp_path / "macs.txt", text)
    settings = {callout_path("mac_filter"): {"list_file": str(listed)}}
    with capture_logs() as logs:
        # The load is not refused: the server and the rest of the chain go on.
        table = call_entry(callout_path("mac_filter"), (), settings)
        w = World(table)
        assert await offered(w, 1) and await offered(w, 2)
    errors = [e for e in logs if e["event"] == "mac_filter_disabled"]
    assert errors and errors[0]["log_level"] == "error"


async def test_a_changed_file_takes_effect(tmp_path: Path) -> None:
    listed = write_list(tmp_path / "macs.txt", "MAC_ACTION = {DENY}\n02:00:00:00:00:01\n")
    w = World(MacFilter(listed, check_interval=0).table())
    assert not await offered(w, 1)
    write_list(listed, "MAC_ACTION = {DENY}\n02:00:00:00:00:02\n")
    stat = listed.stat()
    os.utime(listed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert await offered(w, 1)
    assert not await offered(w, 2)


async def test_the_file_is_checked_at_most_once_per_interval(tmp_path: Path) -> None:
    listed = write_list(tmp_path / "macs.txt", "MAC_ACTION = {DENY}\n02:00:00:00:00:01\n")
    mac_filter = MacFilter(listed, check_interval=3600)
    w = World(mac_filter.table())
    assert not await offered(w, 1)  # the first packet checks (nothing changed)
    write_list(listed, "MAC_ACTION = {ALLOW}\n")
    assert not await offered(w, 1) and await offered(w, 2)  # not checked again yet
    mac_filter._checked = 0.0  # the interval has passed
    assert not await offered(w, 2)


async def test_a_missing_file_serves_everyone_until_it_appears(tmp_path: Path) -> None:
    listed = tmp_path / "later.txt"
    with capture_logs() as logs:
        w = World(MacFilter(listed, check_interval=0).table())
        assert await offered(w, 1)
    assert any(e["event"] == "mac_filter_unreadable" for e in logs)
    write_list(listed, "MAC_ACTION = {DENY}\n02:00:00:00:00:01\n")
    assert not await offered(w, 1)
    # Gone again (an editor's rename): the rules last read stay in force.
    listed.unlink()
    assert not await offered(w, 1) and await offered(w, 2)


async def test_a_refused_packet_gets_only_processed(tmp_path: Path) -> None:
    from dhcpd.hooks import DropReason, HookTable, PacketDropEvent

    listed = write_list(tmp_path / "macs.txt", "MAC_ACTION = {ALLOW}\n")
    drops: list[PacketDropEvent] = []

    async def packet_drop(event: PacketDropEvent) -> None:
        drops.append(event)

    table = MacFilter(listed).table()
    w = World(HookTable(new_packet=table.new_packet, packet_drop=packet_drop))
    assert not await offered(w, 1)
    assert [d.reason for d in drops] == [DropReason.PROCESSED]
    assert w.sent == []


def test_the_entry_function_needs_a_list_file(tmp_path: Path) -> None:
    with pytest.raises(CalloutLoadError, match="list_file"):
        call_entry(callout_path("mac_filter"), (), {})
    from callouts import mac_filter

    with pytest.raises(CalloutRefused, match="check_interval"):
        mac_filter.dhcp_server_callout_entry(
            (), 1, {"callouts.mac_filter": {"list_file": "x", "check_interval": "soon"}})


def test_loaded_by_dotted_name_it_finds_settings_keyed_alike(tmp_path: Path) -> None:
    listed = write_list(tmp_path / "macs.txt", "MAC_ACTION = {DENY}\n")
    table = call_entry("callouts.mac_filter", (), {"callouts.mac_filter": {
        "list_file": str(listed)}})
    assert table.filled() == ("new_packet",)


def test_parsers() -> None:
    assert parse_mac("AA:BB:CC:DD:EE:FF") == bytes.fromhex("aabbccddeeff")
    assert parse_mac("aa-bb-cc-dd-ee-ff") == bytes.fromhex("aabbccddeeff")
    assert parse_mac("aabbccddeeff") == bytes.fromhex("aabbccddeeff")
    for bad in ("aa:bb-cc:dd:ee:ff", "aabb.ccdd.eeff", "aa:bb:cc:dd:ee", "zz:bb:cc:dd:ee:ff"):
        assert parse_mac(bad) is None
    rules = parse_list("mac_action = { allow }\n")
    assert rules.action is MacAction.ALLOW and not rules.macs
