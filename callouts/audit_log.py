"""A lease audit log: one JSON line per lease event, appended to a file.

What it does
------------
Writes one JSON object a line (JSON Lines) for every lease event:

========================  =====================================================
``event``                 when
========================  =====================================================
``lease_granted``         ``address_offer`` NEW: directly before the DHCPACK
                          (or BOOTP reply) of a new lease
``lease_renewed``         ``address_offer`` OLD: a renewal of an existing lease
``lease_declined``        ``address_del`` DECLINE (a DHCPDECLINE)
``lease_released``        ``address_del`` RELEASE (a DHCPRELEASE)
``lease_nacked``          ``address_del`` NACKED (just before a DHCPNAK)
``lease_conflict``        ``address_del`` CONFLICT (the address answered a ping)
``lease_deleted``         ``delete_client``: the lease record is about to be
                          deleted (expiry reclamation, an operator's delete)
========================  =====================================================

Each line has ``time`` (ISO 8601, UTC), ``event`` and ``address``, and, as far
as the event tells: ``hw_address`` (``aa:bb:...``), ``htype``, ``client_id``
(hex, the whole option 61 for packet events), ``hostname`` (option 12),
``xid`` (hex), ``relay`` (giaddr, when relayed), ``interface_address`` (our
address on the interface the request came in on), ``client_kind``
(``DHCP``/``BOOTP``) and ``lease_time`` (seconds; ``null`` for an infinite
lease). Example::

    {"time": "2024-05-01T10:00:00.123Z", "event": "lease_granted", "address": "192.0.2.100",
     "hw_address": "02:00:00:00:00:01", "htype": 1, "client_id": null, "hostname": "pc1",
     "xid": "0x00001234", "relay": null, "interface_address": "192.0.2.1",
     "client_kind": "DHCP", "lease_time": 3600}

Why plain (synchronous) hooks with a lock
-----------------------------------------
The hooks are plain functions, so the server runs them in its callout thread
pool: the file append never blocks the event loop, and a lock keeps the lines
of concurrent calls whole. The alternative, async hooks feeding a queue and a
writer task, would return before the line is written; here ``address_offer``
returns only once the line is written and flushed, so no client gets its ACK
for a lease the audit log does not show yet (the server calls the hook
directly before the ACK). The price is that a slow disk delays that client's
ACK, never other clients (each call has the server's deadline; see
``callouts.deadlines``). Each line is flushed to the OS; the file is reopened
when it was moved away (log rotation) and closed on Control STOP.

Settings
--------
``path`` (required)
    The file to append to (created if missing; its directory must exist).

Configuration
-------------
::

    callouts:
      enabled: true
      modules: [callouts/audit_log.py]
      settings:
        callouts/audit_log.py: {path: /var/log/dhcpd/audit.jsonl}

To use it together with other callouts, chain them through
``callouts/a_fanout.py`` (only the first module in alphabetical order is loaded).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import structlog

from callouts._settings import own_settings
from dhcpd.hooks import (
    INFINITE_LEASE,
    AddressDelEvent,
    AddressOfferEvent,
    CalloutRefused,
    ControlCode,
    ControlEvent,
    DeleteClientEvent,
    HookTable,
    OfferKind,
)
from dhcpd.wire import CLIENT_ID, HOST_NAME, DhcpMessage, MalformedPacket

log = structlog.get_logger("callouts.audit_log")

DEL_EVENTS = {
    "CONFLICT": "lease_conflict",
    "DECLINE": "lease_declined",
    "RELEASE": "lease_released",
    "NACKED": "lease_nacked",
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def packet_fields(packet: bytes) -> dict[str, Any]:
    """What the request tells about its client (empty if it does not parse)."""
    try:
        message = DhcpMessage.parse(packet)
    except MalformedPacket:
        return {}
    fields: dict[str, Any] = {
        "hw_address": str(message.hw_address),
        "htype": message.htype,
        "client_id": None,
        "hostname": None,
        "xid": f"{message.xid:#010x}",
        "relay": str(message.giaddr) if int(message.giaddr) else None,
    }
    raw_id = message.options.get_raw(CLIENT_ID.code)
    if raw_id:
        fields["client_id"] = raw_id.hex()
    with contextlib.suppress(MalformedPacket):
        fields["hostname"] = message.options.get(HOST_NAME)
    return fields


class AuditLog:
    """Appends JSON lines to one file; thread-safe (the hooks run in a thread pool)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._inode: int | None = None

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, separators=(", ", ": "), default=str) + "\n"
        with self._lock:
            stream = self._open()
            stream.write(line)
            stream.flush()

    def _open(self) -> IO[str]:
        if self._file is not None:
            try:
                rotated = os.stat(self.path).st_ino != self._inode
            except FileNotFoundError:
                rotated = True
            if not rotated:
                return self._file
            self._file.close()
            self._file = None
        stream = self.path.open("a", encoding="utf-8")
        self._inode = os.fstat(stream.fileno()).st_ino
        self._file = stream
        return stream

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    # --- the hooks (plain functions: the server runs them in its thread pool) ------

    def address_offer(self, event: AddressOfferEvent) -> None:
        self.write({
            "time": _now(),
            "event": "lease_granted" if event.kind is OfferKind.NEW else "lease_renewed",
            "address": str(event.address),
            **packet_fields(event.packet),
            "interface_address": str(event.interface_address),
            "client_kind": event.client.name,
            "lease_time": None if event.lease_time == INFINITE_LEASE else event.lease_time,
        })

    def address_del(self, event: AddressDelEvent) -> None:
        self.write({
            "time": _now(),
            "event": DEL_EVENTS.get(event.reason.name, f"lease_{event.reason.name.lower()}"),
            "address": str(event.address),
            **packet_fields(event.packet),
            "interface_address": str(event.interface_address),
        })

    def delete_client(self, event: DeleteClientEvent) -> None:
        self.write({
            "time": _now(),
            "event": "lease_deleted",
            "address": str(event.address),
            "hw_address": event.hw_address.hex(":"),
            "htype": event.hw_type,
            "client_id": event.client_id.hex() if event.client_id else None,
            "client_kind": event.client.name,
        })

    def control(self, event: ControlEvent) -> None:
        if event.code is ControlCode.STOP:
            self.close()

    def table(self) -> HookTable:
        return HookTable(control=self.control, address_offer=self.address_offer,
                         address_del=self.address_del, delete_client=self.delete_client)


def dhcp_server_callout_entry(
    chain: tuple[str, ...], api_version: int, settings: Mapping[str, Mapping[str, Any]]
) -> HookTable:
    mine = own_settings(settings, __name__, __file__)
    path = mine.get("path")
    if not isinstance(path, str) or not path:
        raise CalloutRefused("setting 'path' (the audit log file) is required")
    if not Path(path).parent.is_dir():
        raise CalloutRefused(f"the directory of {path} does not exist")
    if chain:
        log.warning("audit_log_chain_ignored", chain=list(chain),
                    hint="load callouts/a_fanout.py to run several callouts")
    return AuditLog(Path(path)).table()
