"""The public callout API: what a callout module sees and hands back.

A callout module plays the part of a Microsoft DHCP Server callout DLL
(dhcpssdk.h). It defines an entry function

    def dhcp_server_callout_entry(chain, api_version, settings) -> HookTable | None

which the server calls once at load: `chain` is the tuple of the configured
callout entries that follow this module (alphabetically), `api_version` is
CALLOUT_API_VERSION, `settings` maps every configured entry to its settings.
It returns the table of hooks it fills, or None (or raises) to refuse.

Every hook takes one argument, a frozen event dataclass, and may be a plain
function (run in a thread pool) or an `async def` (awaited). Only `new_packet`
and `packet_send` hand something back; see docs/callouts.md. Events carry
copies (bytes, frozen dataclasses): nothing a hook does to them reaches the
server's state. The codes, the per-packet events (compiled with the packet
path) and ServerOptions live in modules of their own and are re-exported
here; none of them imports more of the server than the codec and
dhcpd.records.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any, TypeAlias

from .codes import (
    INFINITE_LEASE,
    SEND_PACKET,
    AddressDelReason,
    ClientKind,
    ControlCode,
    DropReason,
    OfferKind,
)
from .events import (
    AddressDelEvent,
    AddressOfferEvent,
    HandleOptionsEvent,
    NewPacketEvent,
    PacketDropEvent,
    PacketSendEvent,
)
from .server_options import SERVER_OPTION_FIELDS, ServerOptions

__all__ = [
    "CALLOUT_API_VERSION", "ENTRY_FUNCTION", "HOOK_NAMES", "INFINITE_LEASE", "RESERVED_SLOTS",
    "SEND_PACKET", "SERVER_OPTION_FIELDS", "AddressDelEvent", "AddressDelReason",
    "AddressOfferEvent", "CalloutRefused", "ClientKind", "ControlCode", "ControlEvent",
    "DeleteClientEvent", "DropReason", "EntryFunction", "HandleOptionsEvent", "Hook",
    "HookTable", "NewPacketEvent", "NewPacketVerdict", "OfferKind", "PacketDropEvent",
    "PacketSendEvent", "ServerOptions",
]

CALLOUT_API_VERSION = 1  # Microsoft's is 0; ours counts from 1
ENTRY_FUNCTION = "dhcp_server_callout_entry"


@dataclass(frozen=True, slots=True)
class ControlEvent:
    code: ControlCode


@dataclass(frozen=True, slots=True)
class NewPacketVerdict:
    """What new_packet may hand back (None means: carry on unchanged).

    packet: a replacement datagram, parsed as if it had been received (one
        that does not parse is dropped as INVALID).
    context: the packet context, an opaque value given back to every later
        hook for this packet (free it in packet_drop on PROCESSED).
    process: False tells the server not to process the packet (Microsoft's
        ProcessIt = FALSE); only packet_drop with PROCESSED follows.
    """

    packet: bytes | None = None
    context: Any = None
    process: bool = True


@dataclass(frozen=True, slots=True)
class DeleteClientEvent:
    """Directly before a lease record is deleted (expiry, operator's delete)."""

    address: IPv4Address
    hw_address: bytes
    hw_type: int
    client_id: bytes | None
    client: ClientKind


# A hook is a plain function or a coroutine function of its event.
Hook: TypeAlias = Callable[[Any], Any | Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class HookTable:
    """The ten slots of DHCP_CALLOUT_TABLE; None = not interested."""

    control: Hook | None = None
    new_packet: Hook | None = None
    packet_drop: Hook | None = None
    packet_send: Hook | None = None
    address_del: Hook | None = None
    address_offer: Hook | None = None
    handle_options: Hook | None = None
    delete_client: Hook | None = None
    extension: Hook | None = None  # reserved: never called
    reserved: Hook | None = None  # reserved: never called

    def filled(self) -> tuple[str, ...]:
        return tuple(name for name in HOOK_NAMES if getattr(self, name) is not None)


HOOK_NAMES = (
    "control", "new_packet", "packet_drop", "packet_send", "address_del",
    "address_offer", "handle_options", "delete_client",
)
RESERVED_SLOTS = ("extension", "reserved")


class CalloutRefused(Exception):
    """Raised by an entry function that declines to load."""


EntryFunction: TypeAlias = Callable[
    [tuple[str, ...], int, Mapping[str, Mapping[str, Any]]], HookTable | None
]
