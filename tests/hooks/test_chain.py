"""chain_callouts: fan-out in order, failures contained, contexts kept apart."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from textwrap import dedent
from typing import Any

from dhcpd.hooks import (
    DropReason,
    HookTable,
    NewPacketEvent,
    NewPacketVerdict,
    PacketDropEvent,
    chain_callouts,
)

CHAINED = '''
from dhcpd.hooks import HookTable, NewPacketVerdict
LOG = []
def dhcp_server_callout_entry(chain, api_version, settings):
    name = settings.get(__file__, {}).get("name", "?")
    async def new_packet(event):
        LOG.append((name, "new_packet", event.packet))
        return NewPacketVerdict(packet=event.packet + name.encode(), context=name + "-ctx")
    def packet_drop(event):
        LOG.append((name, "packet_drop", event.context))
    return HookTable(new_packet=new_packet, packet_drop=packet_drop)
'''
BROKEN = '''
from dhcpd.hooks import HookTable
def dhcp_server_callout_entry(chain, api_version, settings):
    async def packet_drop(event):
        raise RuntimeError("chained module bug")
    return HookTable(packet_drop=packet_drop)
'''
ZERO = IPv4Address(0)


async def test_chain_fans_out_in_order_with_separate_contexts(tmp_path: Path) -> None:
    first = tmp_path / "first.py"
    first.write_text(dedent(CHAINED))
    broken = tmp_path / "second.py"
    broken.write_text(dedent(BROKEN))
    third = tmp_path / "third.py"
    third.write_text(dedent(CHAINED))
    missing = str(tmp_path / "missing.py")
    own_log: list[Any] = []

    async def own_drop(event: PacketDropEvent) -> None:
        own_log.append(event.context)

    table = chain_callouts(
        [str(first), str(broken), missing, str(third)], 1,
        {str(first): {"name": "A"}, str(third): {"name": "C"}},
        own=HookTable(packet_drop=own_drop),
    )
    verdict = await table.new_packet(NewPacketEvent(b"pkt", ZERO, "lo", ZERO, 68))  # type: ignore[misc]
    assert isinstance(verdict, NewPacketVerdict)
    # Replacements pass from one module to the next, in chain order.
    assert verdict.packet == b"pktAC"
    await table.packet_drop(PacketDropEvent(  # type: ignore[misc]
        b"pkt", DropReason.PROCESSED, ZERO, verdict.context))
    import sys

    logs = [m.LOG for name, m in sys.modules.items()
            if name.startswith("dhcpd_callout_first_") or name.startswith("dhcpd_callout_third_")]
    entries = sorted(entry for log in logs for entry in log)
    assert ("A", "new_packet", b"pkt") in entries
    assert ("C", "new_packet", b"pktA") in entries
    # Each chained module gets back its own context; the broken one did not stop C.
    assert ("A", "packet_drop", "A-ctx") in entries
    assert ("C", "packet_drop", "C-ctx") in entries
    assert own_log == [None]
