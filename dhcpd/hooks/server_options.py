"""ServerOptions: the server's parse of a packet's common options, for handle_options.

Re-exported by dhcpd.hooks.api, where callout modules import it from.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any, Final, TypeVar

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

    def __init__(self, packet: bytes | bytearray) -> None:
        # Made for every packet (handle_options): one slot, set through its own
        # descriptor (this class refuses attribute assignment); no parse, and no
        # copy of the server's bytes (a hook's bytearray is copied).
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


# Compiled (setup.py) or not, the slots' own descriptors store past __setattr__.
_set_packet: Final = vars(ServerOptions)["_packet"].__set__
_set_parsed: Final = vars(ServerOptions)["_parsed"].__set__

SERVER_OPTION_FIELDS = (
    "message_type", "subnet_mask", "requested_address", "requested_lease_time", "overload",
    "routers", "server_identifier", "parameter_request_list", "host_name", "client_id_type",
    "client_id", "user_class", "vendor_class", "client_fqdn_flags", "client_fqdn_name",
    "ds_domain_name", "ds_domain_name_requested", "scope_id",
)
