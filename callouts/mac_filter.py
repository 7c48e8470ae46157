"""Microsoft's MAC filter callout: serve only listed clients (ALLOW), or all but them (DENY).

What it does
------------
Reads a list file in the format of Microsoft's MAC filter callout DLL
(MacFilterCallout.dll) and decides in ``new_packet``, before any processing,
whether a client is served. A refused client's packet is answered with
``NewPacketVerdict(process=False)`` (Microsoft's ``ProcessIt = FALSE``): the
server does nothing more with it but send ``packet_drop`` PROCESSED. Every
refusal is logged (``mac_filter_refused``, with the MAC and the action).

The list file::

    MAC_ACTION = {DENY}
    # one MAC address a line; blank lines and '#' comments are ignored
    02:00:00:00:00:01
    02-00-00-00-00-02
    020000000003        # an inline comment after an address is fine too

- The first line that is neither blank nor a comment must be
  ``MAC_ACTION = {ALLOW}`` or ``MAC_ACTION = {DENY}`` (spaces optional, any
  case). ALLOW: only the listed MACs are served. DENY: the listed MACs are
  not served.
- Then one MAC address a line, as ``aa:bb:cc:dd:ee:ff``, ``aa-bb-cc-dd-ee-ff``
  or ``aabbccddeeff`` (6 bytes). A line that is not a MAC is logged with its
  line number (``mac_filter_bad_line``) and skipped.
- Clients whose hardware address is not a 6-byte Ethernet address (htype 1,
  hlen 6) are never on the list: refused under ALLOW, served under DENY.

Failing safe for the server, not for the policy: a missing or bad action line
disables the filter (``mac_filter_disabled``, an error: every client is
served) rather than refusing to load, because a refused load would take the
whole callout chain down with it. A list file that cannot be read at load
time also leaves the filter disabled until it can be read; one that becomes
unreadable later keeps the rules last read (an editor's save-by-rename must
not open the gate).

The file is re-read when it changes (its mtime, size or inode): at most once
per ``check_interval`` seconds one packet's ``new_packet`` pays for an
``os.stat`` (off the event loop, in a thread); the others only look up a set.

Settings
--------
``list_file`` (required)
    Path of the list file.
``check_interval`` (optional, seconds, default 1.0)
    How often at most the file is checked for changes; 0 checks on every packet.

Configuration
-------------
::

    callouts:
      enabled: true
      modules: [callouts/mac_filter.py]
      settings:
        callouts/mac_filter.py: {list_file: /etc/dhcpd/macfilter.txt}

or by module name (``modules: [callouts.mac_filter]`` and the settings keyed
``callouts.mac_filter``). To use it together with other callouts, chain them
through ``callouts/a_fanout.py`` (see there: only one module is loaded by the
server, the first in alphabetical order).
"""

from __future__ import annotations

import asyncio
import enum
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from callouts._settings import own_settings
from dhcpd.hooks import CalloutRefused, HookTable, NewPacketEvent, NewPacketVerdict
from dhcpd.wire import DhcpMessage, MalformedPacket

log = structlog.get_logger("callouts.mac_filter")

_ACTION_RE = re.compile(r"MAC_ACTION\s*=\s*\{\s*(ALLOW|DENY)\s*\}", re.IGNORECASE)
_MAC_RES = (
    re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}", re.IGNORECASE),
    re.compile(r"[0-9a-f]{2}(?:-[0-9a-f]{2}){5}", re.IGNORECASE),
    re.compile(r"[0-9a-f]{12}", re.IGNORECASE),
)


class MacAction(enum.Enum):
    ALLOW = "ALLOW"
    DENY = "DENY"


@dataclass(frozen=True, slots=True)
class MacList:
    """A parsed list file; action None means the filter is disabled."""

    action: MacAction | None
    macs: frozenset[bytes]

    def serves(self, mac: bytes | None) -> bool:
        if self.action is None:
            return True
        listed = mac is not None and mac in self.macs
        return listed if self.action is MacAction.ALLOW else not listed


DISABLED = MacList(None, frozenset())


def parse_mac(text: str) -> bytes | None:
    """A MAC in one of the three accepted formats, else None."""
    text = text.strip()
    if any(pattern.fullmatch(text) for pattern in _MAC_RES):
        return bytes.fromhex(text.replace(":", "").replace("-", ""))
    return None


def parse_list(text: str, source: str = "<list>") -> MacList:
    """Parse a list file's text; problems are logged, never raised."""
    action: MacAction | None = None
    seen_action_line = False
    macs: set[bytes] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not seen_action_line:
            seen_action_line = True
            match = _ACTION_RE.fullmatch(line)
            if match is None:
                log.error("mac_filter_disabled", file=source, line=number, text=raw.strip(),
                          error="the first line must be MAC_ACTION = {ALLOW} or {DENY}; "
                                "every client is served")
                return DISABLED
            action = MacAction(match.group(1).upper())
            continue
        mac = parse_mac(line)
        if mac is None:
            log.warning("mac_filter_bad_line", file=source, line=number, text=raw.strip())
            continue
        macs.add(mac)
    if action is None:
        log.error("mac_filter_disabled", file=source,
                  error="no MAC_ACTION line; every client is served")
        return DISABLED
    return MacList(action, frozenset(macs))


def _client_mac(packet: bytes) -> bytes | None:
    """The client's Ethernet MAC (None: not a 6-byte Ethernet address)."""
    message = DhcpMessage.parse(packet)
    if message.htype != 1 or message.hlen != 6:
        return None
    return message.chaddr[:6]


_Signature = tuple[int, int, int]  # (mtime_ns, size, inode)


class MacFilter:
    """The filter's state: the list in force and when the file was last checked."""

    def __init__(self, list_file: Path, check_interval: float = 1.0) -> None:
        self.list_file = list_file
        self.check_interval = check_interval
        self.rules: MacList = DISABLED
        self._signature: _Signature | None = None
        self._checked = 0.0
        self.refused = 0
        self._reload(initial=True)

    # --- the list file -----------------------------------------------------------

    def _stat(self) -> _Signature | None:
        try:
            st = os.stat(self.list_file)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _reload(self, initial: bool = False) -> None:
        """Re-read the file if it changed (blocking: runs in a thread after the start)."""
        signature = self._stat()
        if signature is None or signature == self._signature:
            if signature is None and (initial or self._signature is not None):
                log.error("mac_filter_unreadable", file=str(self.list_file),
                          keeping="no filter (every client served)" if initial
                          else "the rules last read")
                self._signature = None
            return
        try:
            text = self.list_file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            log.error("mac_filter_unreadable", file=str(self.list_file), error=str(exc))
            return
        self._signature = signature
        self.rules = parse_list(text, str(self.list_file))
        log.info("mac_filter_loaded", file=str(self.list_file),
                 action=self.rules.action.value if self.rules.action else None,
                 macs=len(self.rules.macs))

    async def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.check_interval:
            return
        self._checked = now  # before the await: concurrent packets don't check too
        await asyncio.to_thread(self._reload)

    # --- the hook ------------------------------------------------------------------

    async def new_packet(self, event: NewPacketEvent) -> NewPacketVerdict | None:
        await self._maybe_reload()
        rules = self.rules
        if rules.action is None:
            return None
        try:
            mac = _client_mac(event.packet)
        except MalformedPacket:
            return None  # not ours to judge: the server drops it as INVALID
        if rules.serves(mac):
            return None
        self.refused += 1
        log.info("mac_filter_refused", mac=mac.hex(":") if mac else None,
                 action=rules.action.value, interface=event.interface)
        return NewPacketVerdict(process=False)

    def table(self) -> HookTable:
        return HookTable(new_packet=self.new_packet)


def dhcp_server_callout_entry(
    chain: tuple[str, ...], api_version: int, settings: Mapping[str, Mapping[str, Any]]
) -> HookTable:
    mine = own_settings(settings, __name__, __file__)
    list_file = mine.get("list_file")
    if not isinstance(list_file, str) or not list_file:
        raise CalloutRefused("setting 'list_file' (the MAC list file) is required")
    interval = mine.get("check_interval", 1.0)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval < 0:
        raise CalloutRefused("setting 'check_interval' must be a number of seconds >= 0")
    if chain:
        log.warning("mac_filter_chain_ignored", chain=list(chain),
                    hint="load callouts/a_fanout.py to run several callouts")
    return MacFilter(Path(list_file), float(interval)).table()
