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
server's state. This module imports nothing of the server but the codec.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any, TypeAlias, TypeVar

from dhcpd.records import fast_init
from dhcpd.wire import (
    CLIENT_FQDN,
    CLIENT_ID,
    HOST_NAME,
    LEASE_TIME,
    MESSAGE_TYPE,
    PARAMETER_REQUEST_LIST,
    REQUESTED_ADDRESS,
    ROUTER,
    SERVER_ID,
    SUBNET_MASK,
    USER_CLASS,
    VENDOR_CLASS_ID,
    DhcpMessage,
    MalformedPacket,
    OptionDef,
    Options,
)

T = TypeVar("T")

CALLOUT_API_VERSION = 1  # Microsoft's is 0; ours counts from 1
ENTRY_FUNCTION = "dhcp_server_callout_entry"


class ControlCode(enum.IntEnum):
    """DhcpControlHook codes."""

    START = 1
    STOP = 2
    PAUSE = 3
    CONTINUE = 4


class DropReason(enum.IntEnum):
    """DhcpPktDropHook codes (Microsoft's values): why a packet got no reply."""

    DUPLICATE = 1
    NOMEM = 2  # our receive queue is full
    INTERNAL_ERROR = 3
    TIMEOUT = 4  # the packet waited too long, or a hook timed out
    UNAUTH = 5  # refused by policy
    PAUSED = 6
    NO_SUBNETS = 7
    INVALID = 8
    WRONG_SERVER = 9  # a request meant for another server
    NOADDRESS = 10
    PROCESSED = 11  # sent once at the end of every packet that reached new_packet
    GEN_FAILURE = 0x100


SEND_PACKET = 0x10000000  # DhcpPktSendHook's control code


class AddressDelReason(enum.IntEnum):
    """DhcpAddressDelHook codes: why an address is taken back."""

    CONFLICT = 0x20000001  # an ICMP echo to the address was answered
    DECLINE = 0x20000002
    RELEASE = 0x20000003
    NACKED = 0x20000004


class OfferKind(enum.IntEnum):
    """DhcpAddressOfferHook: a new lease or the renewal of an existing one."""

    NEW = 0x30000001  # GIVE_ADDRESS_NEW
    OLD = 0x30000002  # GIVE_ADDRESS_OLD


class ClientKind(enum.IntEnum):
    BOOTP = 0x30000003  # CLIENT_BOOTP
    DHCP = 0x30000004  # CLIENT_DHCP


INFINITE_LEASE = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class ControlEvent:
    code: ControlCode


@fast_init  # made per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class NewPacketEvent:
    """A datagram as received, before any processing (DhcpNewPktHook)."""

    packet: bytes
    interface_address: IPv4Address  # our address on the interface it arrived on
    interface: str
    source_address: IPv4Address
    source_port: int


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


@fast_init  # made per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class PacketDropEvent:
    packet: bytes
    reason: DropReason
    interface_address: IPv4Address
    context: Any


@fast_init  # made per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class PacketSendEvent:
    """A response about to be sent; the hook may hand back replacement bytes."""

    response: bytes
    request: bytes
    destination: IPv4Address
    destination_port: int
    interface_address: IPv4Address
    context: Any


@fast_init  # made per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class AddressDelEvent:
    packet: bytes  # the request that caused it
    reason: AddressDelReason
    address: IPv4Address
    interface_address: IPv4Address
    context: Any


@fast_init  # made per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class AddressOfferEvent:
    """Directly before a DHCPACK or BOOTP reply, with the lease committed."""

    packet: bytes
    kind: OfferKind
    client: ClientKind
    address: IPv4Address
    lease_time: int  # seconds; INFINITE_LEASE for an infinite lease
    interface_address: IPv4Address
    context: Any


class ServerOptions:
    """The server's parse of the common options (Microsoft's DHCP_SERVER_OPTIONS).

    A read-only view of the packet as it was received (immutable bytes: nothing
    the server or a hook does afterwards reaches it). Nothing is parsed until a
    hook reads a field (a hook that reads none costs nothing); then the packet
    is parsed once and each field decoded when first read, None when the
    option is absent or malformed (every field, for bytes that do not parse).
    The client identifier is split into its type byte and the rest. `overload`
    is option 52 as the client sent it (the options it carried in sname/file
    are already among the others); the directory-service fields stay empty here.
    """

    __slots__ = ("_packet", "_parsed")
    _packet: bytes
    _parsed: tuple[Options, int | None, dict[int, Any]]  # options, overload, decoded

    def __init__(self, packet: bytes) -> None:
        # Made for every packet (handle_options): one slot, set through its own
        # descriptor (this class refuses attribute assignment); no parse, no copy.
        _set_packet(self, bytes(packet))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ServerOptions is read-only")

    def _view(self) -> tuple[Options, int | None, dict[int, Any]]:
        try:
            return self._parsed
        except AttributeError:
            pass
        try:
            message = DhcpMessage.parse(self._packet)
            view: tuple[Options, int | None, dict[int, Any]] = (
                message.options, message.overload or None, {})
        except MalformedPacket:  # not from the server (it parsed what it passes)
            view = (Options(), None, {})
        # Two threads (plain hooks) may both get here: each builds the same view.
        _set_parsed(self, view)
        return view

    def _decoded(self, option: OptionDef[T]) -> T | None:
        options, _overload, cache = self._view()
        if option.code not in cache:
            try:
                cache[option.code] = options.get(option)
            except MalformedPacket:
                cache[option.code] = None
        value: T | None = cache[option.code]
        return value

    @property
    def message_type(self) -> int | None:
        kind = self._decoded(MESSAGE_TYPE)
        return int(kind) if kind is not None else None

    @property
    def subnet_mask(self) -> IPv4Address | None:
        return self._decoded(SUBNET_MASK)

    @property
    def requested_address(self) -> IPv4Address | None:
        return self._decoded(REQUESTED_ADDRESS)

    @property
    def requested_lease_time(self) -> int | None:
        return self._decoded(LEASE_TIME)

    @property
    def overload(self) -> int | None:
        """Option 52: 1 file, 2 sname, 3 both carried options; None when absent."""
        return self._view()[1]

    @property
    def routers(self) -> tuple[IPv4Address, ...] | None:
        return self._decoded(ROUTER)

    @property
    def server_identifier(self) -> IPv4Address | None:
        return self._decoded(SERVER_ID)

    @property
    def parameter_request_list(self) -> tuple[int, ...] | None:
        return self._decoded(PARAMETER_REQUEST_LIST)

    @property
    def host_name(self) -> str | None:
        return self._decoded(HOST_NAME)

    @property
    def client_id_type(self) -> int | None:
        client_id = self._decoded(CLIENT_ID)
        return client_id[0] if client_id else None

    @property
    def client_id(self) -> bytes | None:
        client_id = self._decoded(CLIENT_ID)
        return client_id[1:] if client_id else None

    @property
    def user_class(self) -> bytes | None:
        return self._decoded(USER_CLASS)

    @property
    def vendor_class(self) -> bytes | None:
        return self._decoded(VENDOR_CLASS_ID)

    @property
    def client_fqdn_flags(self) -> int | None:
        fqdn = self._decoded(CLIENT_FQDN)
        return fqdn.flags if fqdn is not None else None

    @property
    def client_fqdn_name(self) -> str | None:
        fqdn = self._decoded(CLIENT_FQDN)
        return fqdn.name if fqdn is not None else None

    @property
    def ds_domain_name(self) -> str | None:
        return None

    @property
    def ds_domain_name_requested(self) -> bool:
        return False

    @property
    def scope_id(self) -> bytes | None:
        return None

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (the isolation worker gets it): the packet is all there is.
        return (ServerOptions, (self._packet,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServerOptions) and self._packet == other._packet

    def __hash__(self) -> int:
        return hash(self._packet)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in SERVER_OPTION_FIELDS)
        return f"ServerOptions({fields})"


_set_packet = vars(ServerOptions)["_packet"].__set__
_set_parsed = vars(ServerOptions)["_parsed"].__set__

SERVER_OPTION_FIELDS = (
    "message_type", "subnet_mask", "requested_address", "requested_lease_time", "overload",
    "routers", "server_identifier", "parameter_request_list", "host_name", "client_id_type",
    "client_id", "user_class", "vendor_class", "client_fqdn_flags", "client_fqdn_name",
    "ds_domain_name", "ds_domain_name_requested", "scope_id",
)


@fast_init  # made per packet: see dhcpd/records.py
@dataclass(frozen=True, slots=True)
class HandleOptionsEvent:
    packet: bytes
    options: ServerOptions
    interface_address: IPv4Address
    context: Any


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
