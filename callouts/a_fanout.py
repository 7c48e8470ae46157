"""The chaining example: load the rest of the list and fan every event out to it.

A tutorial on chaining
----------------------
The server loads **one** callout module, as Microsoft's DHCP server loads one
callout DLL: it sorts ``callouts.modules`` alphabetically (plain string
order, ``sorted()`` on the entries exactly as written), tries them in that
order, and the first whose entry function accepts is the active module. The
entries after it are not loaded by the server: they are handed to the active
module's entry function as its ``chain``. Loading them is the active module's
job ("Chaining Multiple Third-Party DLLs"), and ``dhcpd.hooks.chain_callouts``
does it in one call::

    def dhcp_server_callout_entry(chain, api_version, settings):
        own = HookTable(new_packet=count, control=summary)
        return chain_callouts(chain, api_version, settings, own=own,
                              name=__name__)

It imports each chained module, calls its entry function (with an empty
chain: the primary does the chaining) and returns one table whose hooks call
``own`` first and then each chained module in chain order. A chained module
that fails to load is logged and left out; a chained hook that raises is
logged and the others are still called; ``new_packet`` and ``packet_send``
replacements pass from one module to the next; each module gets back its own
packet context; ``new_packet`` stops processing if any module says so.

So with::

    callouts:
      enabled: true
      modules: [callouts/a_fanout.py, callouts/mac_filter.py, callouts/audit_log.py]
      settings:
        callouts/mac_filter.py: {list_file: /etc/dhcpd/macfilter.txt}
        callouts/audit_log.py: {path: /var/log/dhcpd/audit.jsonl}

the server sorts the list to ``a_fanout.py, audit_log.py, mac_filter.py``,
loads this module first and gives it the chain ``(callouts/audit_log.py,
callouts/mac_filter.py)``; this module loads both, and every event reaches
this module's own hooks, then the audit log's, then the MAC filter's.

Why the file name matters
-------------------------
Only the module that sorts first is the chainer, so the fan-out must sort
before every module it is meant to chain. The name ``a_fanout`` does:
``_`` sorts before every lowercase letter, so ``callouts/a_fanout.py`` comes
before ``callouts/audit_log.py`` (a plain ``fanout.py`` would come after it, and
the audit log, which does not chain, would be loaded alone). Mind also:

- the comparison is on the strings as configured: ``/etc/x/b.py`` sorts
  before ``callouts/a.py`` ('/' < 'c'), and a dotted name sorts before the
  path of the same folder (``callouts.x`` < ``callouts/x.py``, '.' < '/');
  use one form for all entries and keep them in one folder;
- uppercase letters and digits sort before lowercase ones;
- if the fan-out refuses or fails to load, the server logs why and tries the
  next entry, which then loads alone with its own chain.

Chained modules find their settings like any callout (``callouts._settings``):
the keys are the entries exactly as listed.

What this module adds itself
----------------------------
A small hook of its own, as an example: ``new_packet`` counts received
packets per DHCP message type (``DISCOVER``, ``REQUEST``, ...; ``BOOTP`` for
BOOTP requests, ``INVALID`` for datagrams that do not parse), and Control
STOP logs the counts (``fanout_summary``) with the names of the chained
modules. It never changes a packet. Both hooks are ``async``: they run on the
event loop and do no I/O (the log line aside).

Settings
--------
None of its own (``callouts.settings`` is handed on to the chained modules).

Configuration
-------------
As above: list it with the modules it should chain, in one folder and one
form. ``modules: [callouts.a_fanout, callouts.mac_filter, callouts.audit_log]``
(dotted names, settings keyed alike) works the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import structlog

from dhcpd.hooks import (
    ControlCode,
    ControlEvent,
    HookTable,
    NewPacketEvent,
    chain_callouts,
)
from dhcpd.wire import DhcpMessage, MalformedPacket

log = structlog.get_logger("callouts.fanout")


class PacketCounter:
    """Counts received packets per message type; logs the counts on STOP."""

    def __init__(self, chain: tuple[str, ...] = ()) -> None:
        self.chain = chain
        self.counts: Counter[str] = Counter()

    async def new_packet(self, event: NewPacketEvent) -> None:
        try:
            message = DhcpMessage.parse(event.packet)
            kind = message.message_type
        except MalformedPacket:
            self.counts["INVALID"] += 1
            return
        self.counts[kind.name if kind is not None else "BOOTP"] += 1

    async def control(self, event: ControlEvent) -> None:
        if event.code is ControlCode.STOP:
            log.info("fanout_summary", packets=dict(sorted(self.counts.items())),
                     total=sum(self.counts.values()), chain=list(self.chain))

    def table(self) -> HookTable:
        return HookTable(new_packet=self.new_packet, control=self.control)


def dhcp_server_callout_entry(
    chain: tuple[str, ...], api_version: int, settings: Mapping[str, Mapping[str, Any]]
) -> HookTable:
    counter = PacketCounter(tuple(chain))
    log.info("fanout_chaining", chain=list(chain))
    return chain_callouts(chain, api_version, settings, own=counter.table(), name=__name__)
