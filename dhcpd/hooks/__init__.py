"""The callout API (Microsoft DHCP Server callout semantics for Python modules).

Callout modules import from here (and from dhcpd.wire) only.
"""

from .api import (
    CALLOUT_API_VERSION,
    ENTRY_FUNCTION,
    INFINITE_LEASE,
    SEND_PACKET,
    AddressDelEvent,
    AddressDelReason,
    AddressOfferEvent,
    CalloutRefused,
    ClientKind,
    ControlCode,
    ControlEvent,
    DeleteClientEvent,
    DropReason,
    HandleOptionsEvent,
    HookTable,
    NewPacketEvent,
    NewPacketVerdict,
    OfferKind,
    PacketDropEvent,
    PacketSendEvent,
    ServerOptions,
)
from .chain import chain_callouts

__all__ = [
    "CALLOUT_API_VERSION", "ENTRY_FUNCTION", "INFINITE_LEASE", "SEND_PACKET", "AddressDelEvent",
    "AddressDelReason", "AddressOfferEvent", "CalloutRefused", "ClientKind", "ControlCode",
    "ControlEvent", "DeleteClientEvent", "DropReason", "HandleOptionsEvent", "HookTable",
    "NewPacketEvent", "NewPacketVerdict", "OfferKind", "PacketDropEvent", "PacketSendEvent",
    "ServerOptions", "chain_callouts",
]
