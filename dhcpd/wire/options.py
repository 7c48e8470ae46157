"""Typed DHCP option definitions and the raw option container.

Options are kept as raw bytes per code (RFC 3396-joined) and only decoded when a caller
asks for a typed value, so one bad option never makes a whole packet unparsable.
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any, ClassVar, Generic, TypeVar

from .addresses import address_bytes, address_of
from .constants import MIN_MESSAGE_SIZE, MessageType, OptionCode
from .errors import InvalidOption, MalformedPacket
from .relay import RelayAgentInfo, decode_relay_agent_info, encode_relay_agent_info

__all__ = [
    "BOOTFILE_NAME",
    "BROADCAST_ADDRESS",
    "CLASSLESS_STATIC_ROUTE",
    "CLIENT_FQDN",
    "CLIENT_ID",
    "DOMAIN_NAME",
    "DOMAIN_NAME_SERVER",
    "DOMAIN_SEARCH",
    "HOST_NAME",
    "INTERFACE_MTU",
    "LEASE_TIME",
    "MAX_MESSAGE_SIZE",
    "MESSAGE",
    "MESSAGE_TYPE",
    "NETBIOS_NAME_SERVERS",
    "NTP_SERVERS",
    "OPTION_DEFS",
    "OPTION_DEFS_BY_NAME",
    "OVERLOAD",
    "PARAMETER_REQUEST_LIST",
    "RAPID_COMMIT",
    "REBINDING_TIME",
    "RELAY_AGENT_INFO",
    "RENEWAL_TIME",
    "REQUESTED_ADDRESS",
    "ROUTER",
    "SERVER_ID",
    "SUBNET_MASK",
    "SUBNET_SELECTION",
    "TFTP_SERVER_NAME",
    "TIME_OFFSET",
    "USER_CLASS",
    "VENDOR_CLASS_ID",
    "VENDOR_SPECIFIC",
    "AddressListOption",
    "AddressOption",
    "BytesOption",
    "ClasslessStaticRouteOption",
    "ClientFqdn",
    "ClientFqdnOption",
    "ClientIdOption",
    "DomainSearchOption",
    "FlagOption",
    "MessageTypeOption",
    "OptionDef",
    "Options",
    "ParameterRequestListOption",
    "RelayAgentInfo",
    "RelayAgentInfoOption",
    "SignedIntOption",
    "TextOption",
    "UIntOption",
]

T = TypeVar("T")


class OptionDef(ABC, Generic[T]):
    """How one option code maps between wire bytes and a Python value."""

    __slots__ = ("code", "name")

    def __init__(self, code: int, name: str | None = None) -> None:
        self.code = int(code)
        # the config file refers to options by these snake_case names
        self.name = name if name is not None else OptionCode(code).name.lower()

    @abstractmethod
    def decode(self, data: bytes) -> T:
        """Decode a (joined) option value; raises InvalidOption(code, reason)."""

    @abstractmethod
    def encode(self, value: T) -> bytes:
        """Encode a value; raises ValueError when it cannot be represented."""

    def _invalid(self, reason: str) -> InvalidOption:
        return InvalidOption(self.code, reason)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.code} {self.name}>"


def _packed(address: IPv4Address) -> bytes:
    # IPv4Address(IPv4Address) re-parses the string form (~5 µs): avoid it when possible
    if type(address) is IPv4Address:
        return address_bytes(address)
    return IPv4Address(address).packed


class AddressOption(OptionDef[IPv4Address]):
    """Exactly one IPv4 address (RFC 2132 sections 3.3, 9.1, 9.7, ...)."""

    __slots__ = ()

    def decode(self, data: bytes) -> IPv4Address:
        if len(data) != 4:
            raise self._invalid(f"expected 4 bytes, got {len(data)}")
        return address_of(int.from_bytes(data, "big"))

    def encode(self, value: IPv4Address) -> bytes:
        return _packed(value)


class AddressListOption(OptionDef[tuple[IPv4Address, ...]]):
    """One or more IPv4 addresses, minimum length 4, multiple of 4 (RFC 2132 section 3.5)."""

    __slots__ = ()

    def decode(self, data: bytes) -> tuple[IPv4Address, ...]:
        n = len(data)
        if n == 0 or n % 4:
            raise self._invalid(f"length {n} is not a positive multiple of 4")
        return tuple(IPv4Address(data[i : i + 4]) for i in range(0, n, 4))

    def encode(self, value: tuple[IPv4Address, ...]) -> bytes:
        if not value:
            raise ValueError(f"option {self.code} needs at least one address")
        return b"".join(_packed(a) for a in value)


class UIntOption(OptionDef[int]):
    """Unsigned big-endian integer of 1, 2 or 4 bytes with an optional minimum."""

    __slots__ = ("_fmt", "maximum", "minimum", "size")

    def __init__(
        self, code: int, size: int, minimum: int = 0, maximum: int | None = None
    ) -> None:
        super().__init__(code)
        self.size = size
        self._fmt = struct.Struct({1: "!B", 2: "!H", 4: "!I"}[size])
        self.minimum = minimum
        self.maximum = (1 << (8 * size)) - 1 if maximum is None else maximum

    def decode(self, data: bytes) -> int:
        if len(data) != self.size:
            raise self._invalid(f"expected {self.size} bytes, got {len(data)}")
        (value,) = self._fmt.unpack(data)
        if not self.minimum <= value <= self.maximum:
            raise self._invalid(f"value {value} outside {self.minimum}..{self.maximum}")
        return int(value)

    def encode(self, value: int) -> bytes:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"option {self.code}: {value} outside {self.minimum}..{self.maximum}")
        return self._fmt.pack(value)


class SignedIntOption(OptionDef[int]):
    """Signed 32-bit integer (RFC 2132 section 3.4, time offset)."""

    __slots__ = ()
    _fmt: ClassVar[struct.Struct] = struct.Struct("!i")

    def decode(self, data: bytes) -> int:
        if len(data) != 4:
            raise self._invalid(f"expected 4 bytes, got {len(data)}")
        return int(self._fmt.unpack(data)[0])

    def encode(self, value: int) -> bytes:
        if not -(1 << 31) <= value < (1 << 31):
            raise ValueError(f"option {self.code}: {value} does not fit in a signed 32-bit int")
        return self._fmt.pack(value)


class TextOption(OptionDef[str]):
    """NVT ASCII text (RFC 2132 section 2). UTF-8 is accepted as a superset because real
    clients send it; trailing NULs are stripped because many clients NUL-terminate."""

    __slots__ = ("min_length",)

    def __init__(self, code: int, min_length: int = 1) -> None:
        super().__init__(code)
        self.min_length = min_length

    def decode(self, data: bytes) -> str:
        data = data.rstrip(b"\x00")
        if len(data) < self.min_length:
            raise self._invalid(f"shorter than {self.min_length} bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._invalid(f"not valid text: {exc.reason}") from None

    def encode(self, value: str) -> bytes:
        data = value.encode("utf-8")
        if len(data) < self.min_length:
            raise ValueError(f"option {self.code}: shorter than {self.min_length} bytes")
        return data


class BytesOption(OptionDef[bytes]):
    """Opaque bytes with a minimum length (vendor options, RFC 2132 sections 8.4 and 9.13)."""

    __slots__ = ("min_length",)

    def __init__(self, code: int, min_length: int = 1) -> None:
        super().__init__(code)
        self.min_length = min_length

    def decode(self, data: bytes) -> bytes:
        if len(data) < self.min_length:
            raise self._invalid(f"shorter than {self.min_length} bytes")
        return bytes(data)

    def encode(self, value: bytes) -> bytes:
        if len(value) < self.min_length:
            raise ValueError(f"option {self.code}: shorter than {self.min_length} bytes")
        return bytes(value)


class ClientIdOption(BytesOption):
    """RFC 2132 section 9.14: type octet + identifier, minimum length 2."""

    __slots__ = ()

    def __init__(self, code: int) -> None:
        super().__init__(code, min_length=2)


class FlagOption(OptionDef[bool]):
    """Presence-only option with an empty payload (RFC 4039 section 4, Rapid Commit)."""

    __slots__ = ()

    def decode(self, data: bytes) -> bool:
        if data:
            raise self._invalid("must have an empty payload")
        return True

    def encode(self, value: bool) -> bytes:
        if value is not True:
            raise ValueError(f"option {self.code} can only be set to True; delete it instead")
        return b""


# option 53's wire value -> its MessageType: every packet's type is looked up here
MESSAGE_TYPES_BY_WIRE: dict[bytes, MessageType] = {bytes((kind,)): kind for kind in MessageType}


class MessageTypeOption(OptionDef[MessageType]):
    """RFC 2132 section 9.6: one octet, values from the MessageType enum."""

    __slots__ = ()

    def decode(self, data: bytes) -> MessageType:
        kind = MESSAGE_TYPES_BY_WIRE.get(data)  # a dict lookup: MessageType(n) costs ~1 µs
        if kind is not None:
            return kind
        if len(data) != 1:
            raise self._invalid(f"expected 1 byte, got {len(data)}")
        raise self._invalid(f"unknown message type {data[0]}")

    def encode(self, value: MessageType | int) -> bytes:  # a plain int is checked here
        return bytes((MessageType(value),))


class ParameterRequestListOption(OptionDef[tuple[int, ...]]):
    """RFC 2132 section 9.8: a list of option codes. An empty list is accepted (lenient)."""

    __slots__ = ()

    def decode(self, data: bytes) -> tuple[int, ...]:
        return tuple(data)

    def encode(self, value: tuple[int, ...]) -> bytes:
        return bytes(value)  # raises ValueError for codes outside 0..255


# --- DNS names (RFC 1035 section 3.1 / 4.1.4) used by options 81 and 119 ---

_MAX_NAME = 255  # RFC 1035 section 2.3.4: names are at most 255 octets on the wire


def _label_text(code: int, label: bytes) -> str:
    try:
        text = label.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidOption(code, "non-ASCII byte in a domain label") from None
    if "." in text:
        raise InvalidOption(code, "'.' inside a domain label cannot be represented")
    return text


def _name_labels(name: str) -> list[bytes]:
    """Split a dotted name into wire labels; raises ValueError for unencodable names."""
    stripped = name[:-1] if name.endswith(".") else name
    if not stripped:
        return []
    labels = [part.encode("ascii") for part in stripped.split(".")]  # UnicodeError is a ValueError
    for label in labels:
        if not 1 <= len(label) <= 63:
            raise ValueError(f"invalid label length in domain name {name!r}")
    if sum(len(lb) + 1 for lb in labels) + 1 > _MAX_NAME:
        raise ValueError(f"domain name {name!r} longer than 255 octets")
    return labels


class DomainSearchOption(OptionDef[tuple[str, ...]]):
    """RFC 3397 section 2: concatenated wire-format names; compression pointers are offsets
    into the (RFC 3396-joined) option data. Names are returned without a trailing dot."""

    __slots__ = ()

    def decode(self, data: bytes) -> tuple[str, ...]:
        if not data:
            raise self._invalid("empty search list")
        names: list[str] = []
        pos = 0
        n = len(data)
        while pos < n:
            labels, pos = self._read_name(data, pos)
            names.append(".".join(labels))
        return tuple(names)

    def _read_name(self, data: bytes, pos: int) -> tuple[list[str], int]:
        labels: list[str] = []
        wire_len = 1
        resume = -1
        n = len(data)
        hops = 0
        while True:
            if pos >= n:
                raise self._invalid("domain name runs past the option")
            length = data[pos]
            if length == 0:
                pos += 1
                break
            kind = length & 0xC0
            if kind == 0xC0:
                # RFC 1035 section 4.1.4: pointers refer to a prior occurrence; requiring
                # strictly backward targets plus a hop cap rules out loops
                if pos + 1 >= n:
                    raise self._invalid("compression pointer truncated")
                target = ((length & 0x3F) << 8) | data[pos + 1]
                if target >= pos:
                    raise self._invalid("compression pointer does not point backwards")
                hops += 1
                if hops > 127:
                    raise self._invalid("too many compression pointers")
                if resume < 0:
                    resume = pos + 2
                pos = target
                continue
            if kind:
                raise self._invalid(f"reserved label type {kind:#x}")
            end = pos + 1 + length
            if end > n:
                raise self._invalid("domain label runs past the option")
            wire_len += length + 1
            if wire_len > _MAX_NAME:
                raise self._invalid("domain name longer than 255 octets")
            labels.append(_label_text(self.code, data[pos + 1 : end]))
            pos = end
        return labels, (resume if resume >= 0 else pos)

    def encode(self, value: tuple[str, ...]) -> bytes:
        if not value:
            raise ValueError("domain search list must not be empty")
        out = bytearray()
        seen: dict[tuple[bytes, ...], int] = {}
        for name in value:
            labels = _name_labels(name)
            for i in range(len(labels)):
                suffix = tuple(labels[i:])
                offset = seen.get(suffix)
                if offset is not None:
                    out += bytes((0xC0 | (offset >> 8), offset & 0xFF))
                    break
                if len(out) < 0x4000:  # pointers have 14 bits of offset
                    seen[suffix] = len(out)
                out.append(len(labels[i]))
                out += labels[i]
            else:
                out.append(0)
        return bytes(out)


# RFC 4702 section 2.1 flags (module constants: a compiled dataclass has no class constants)
FQDN_FLAG_S = 0x01  # server should do the A RR update
FQDN_FLAG_O = 0x02  # server overrode the client's S choice
FQDN_FLAG_E = 0x04  # canonical wire format
FQDN_FLAG_N = 0x08  # server should do no updates


@dataclass(frozen=True, slots=True)
class ClientFqdn:
    """RFC 4702 section 2 Client FQDN.

    With the E flag set the name is in canonical wire format: a fully qualified name (one
    ending with the root label) is represented with a trailing "." and a partial name
    without one. Without E the name is the raw (deprecated) ASCII form, kept verbatim.
    """

    flags: int
    rcode1: int
    rcode2: int
    name: str


class ClientFqdnOption(OptionDef[ClientFqdn]):
    __slots__ = ()

    def decode(self, data: bytes) -> ClientFqdn:
        # RFC 4702 section 2: flags, RCODE1, RCODE2, domain name
        if len(data) < 3:
            raise self._invalid("shorter than 3 bytes")
        flags, rcode1, rcode2 = data[0], data[1], data[2]
        raw = data[3:]
        if flags & FQDN_FLAG_E:
            name = self._decode_wire(raw)
        else:
            try:
                name = raw.rstrip(b"\x00").decode("ascii")
            except UnicodeDecodeError:
                raise self._invalid("non-ASCII domain name") from None
        return ClientFqdn(flags, rcode1, rcode2, name)

    def _decode_wire(self, raw: bytes) -> str:
        # RFC 4702 section 2.1: canonical wire format, no compression; a missing root
        # label means a partial name
        labels: list[str] = []
        pos = 0
        n = len(raw)
        while pos < n:
            length = raw[pos]
            if length == 0:
                if pos + 1 != n:
                    raise self._invalid("data after the root label")
                if n > _MAX_NAME:
                    raise self._invalid("domain name longer than 255 octets")
                return ".".join(labels) + "."
            if length & 0xC0:
                raise self._invalid("compression is not allowed in option 81")
            end = pos + 1 + length
            if end > n:
                raise self._invalid("domain label runs past the option")
            labels.append(_label_text(self.code, raw[pos + 1 : end]))
            pos = end
        if n + 1 > _MAX_NAME:
            raise self._invalid("domain name longer than 255 octets")
        return ".".join(labels)

    def encode(self, value: ClientFqdn) -> bytes:
        for field in (value.flags, value.rcode1, value.rcode2):
            if not 0 <= field <= 255:
                raise ValueError(f"client FQDN field {field} out of range 0..255")
        head = bytes((value.flags, value.rcode1, value.rcode2))
        if value.flags & FQDN_FLAG_E:
            labels = _name_labels(value.name)
            body = b"".join(bytes((len(lb),)) + lb for lb in labels)
            if value.name.endswith("."):
                body += b"\x00"
            return head + body
        return head + value.name.encode("ascii")


class RelayAgentInfoOption(OptionDef[RelayAgentInfo]):
    """RFC 3046 section 2.0; see dhcpd.wire.relay."""

    __slots__ = ()

    def decode(self, data: bytes) -> RelayAgentInfo:
        return decode_relay_agent_info(data)

    def encode(self, value: RelayAgentInfo) -> bytes:
        return encode_relay_agent_info(value)


Route = tuple[IPv4Network, IPv4Address]


class ClasslessStaticRouteOption(OptionDef[tuple[Route, ...]]):
    """RFC 3442 section 3: width octet, significant destination octets, router."""

    __slots__ = ()

    def decode(self, data: bytes) -> tuple[Route, ...]:
        if not data:
            raise self._invalid("empty route list")
        routes: list[Route] = []
        pos = 0
        n = len(data)
        while pos < n:
            width = data[pos]
            if width > 32:
                raise self._invalid(f"prefix width {width} > 32")
            sig = (width + 7) // 8
            end = pos + 1 + sig + 4
            if end > n:
                raise self._invalid("route descriptor truncated")
            dest = int.from_bytes(data[pos + 1 : pos + 1 + sig].ljust(4, b"\x00"), "big")
            # bits past the prefix are ignored rather than rejected (be liberal on input)
            mask = (0xFFFFFFFF << (32 - width)) & 0xFFFFFFFF
            routes.append(
                (IPv4Network((dest & mask, width)), IPv4Address(data[pos + 1 + sig : end]))
            )
            pos = end
        return tuple(routes)

    def encode(self, value: tuple[Route, ...]) -> bytes:
        if not value:
            raise ValueError("classless static route list must not be empty")
        out = bytearray()
        for network, router in value:
            net = IPv4Network(network)
            width = net.prefixlen
            out.append(width)
            out += net.network_address.packed[: (width + 7) // 8]
            out += _packed(router)
        return bytes(out)


# --- module-level definitions, one per known option ---

SUBNET_MASK = AddressOption(OptionCode.SUBNET_MASK)  # RFC 2132 section 3.3
TIME_OFFSET = SignedIntOption(OptionCode.TIME_OFFSET)  # RFC 2132 section 3.4
ROUTER = AddressListOption(OptionCode.ROUTER)  # RFC 2132 section 3.5
DOMAIN_NAME_SERVER = AddressListOption(OptionCode.DOMAIN_NAME_SERVER)  # RFC 2132 section 3.8
HOST_NAME = TextOption(OptionCode.HOST_NAME)  # RFC 2132 section 3.14
DOMAIN_NAME = TextOption(OptionCode.DOMAIN_NAME)  # RFC 2132 section 3.17
INTERFACE_MTU = UIntOption(OptionCode.INTERFACE_MTU, 2, minimum=68)  # RFC 2132 section 5.1
BROADCAST_ADDRESS = AddressOption(OptionCode.BROADCAST_ADDRESS)  # RFC 2132 section 5.3
NTP_SERVERS = AddressListOption(OptionCode.NTP_SERVERS)  # RFC 2132 section 8.3
VENDOR_SPECIFIC = BytesOption(OptionCode.VENDOR_SPECIFIC)  # RFC 2132 section 8.4
NETBIOS_NAME_SERVERS = AddressListOption(OptionCode.NETBIOS_NAME_SERVERS)  # RFC 2132 8.5
REQUESTED_ADDRESS = AddressOption(OptionCode.REQUESTED_ADDRESS)  # RFC 2132 section 9.1
LEASE_TIME = UIntOption(OptionCode.LEASE_TIME, 4)  # RFC 2132 section 9.2
OVERLOAD = UIntOption(OptionCode.OVERLOAD, 1, minimum=1, maximum=3)  # RFC 2132 section 9.3
MESSAGE_TYPE = MessageTypeOption(OptionCode.MESSAGE_TYPE)  # RFC 2132 section 9.6
SERVER_ID = AddressOption(OptionCode.SERVER_ID)  # RFC 2132 section 9.7
PARAMETER_REQUEST_LIST = ParameterRequestListOption(OptionCode.PARAMETER_REQUEST_LIST)  # 9.8
MESSAGE = TextOption(OptionCode.MESSAGE)  # RFC 2132 section 9.9
MAX_MESSAGE_SIZE = UIntOption(  # RFC 2132 section 9.10: minimum legal value is 576
    OptionCode.MAX_MESSAGE_SIZE, 2, minimum=MIN_MESSAGE_SIZE
)
RENEWAL_TIME = UIntOption(OptionCode.RENEWAL_TIME, 4)  # RFC 2132 section 9.11
REBINDING_TIME = UIntOption(OptionCode.REBINDING_TIME, 4)  # RFC 2132 section 9.12
VENDOR_CLASS_ID = BytesOption(OptionCode.VENDOR_CLASS_ID)  # RFC 2132 section 9.13
CLIENT_ID = ClientIdOption(OptionCode.CLIENT_ID)  # RFC 2132 section 9.14
TFTP_SERVER_NAME = TextOption(OptionCode.TFTP_SERVER_NAME)  # RFC 2132 section 9.4
BOOTFILE_NAME = TextOption(OptionCode.BOOTFILE_NAME)  # RFC 2132 section 9.5
USER_CLASS = BytesOption(OptionCode.USER_CLASS)  # RFC 3004 section 4
RAPID_COMMIT = FlagOption(OptionCode.RAPID_COMMIT)  # RFC 4039 section 4
CLIENT_FQDN = ClientFqdnOption(OptionCode.CLIENT_FQDN)  # RFC 4702 section 2
RELAY_AGENT_INFO = RelayAgentInfoOption(OptionCode.RELAY_AGENT_INFO)  # RFC 3046 section 2
SUBNET_SELECTION = AddressOption(OptionCode.SUBNET_SELECTION)  # RFC 3011 section 3
DOMAIN_SEARCH = DomainSearchOption(OptionCode.DOMAIN_SEARCH)  # RFC 3397 section 2
CLASSLESS_STATIC_ROUTE = ClasslessStaticRouteOption(OptionCode.CLASSLESS_STATIC_ROUTE)  # 3442

_ALL_DEFS: tuple[OptionDef[Any], ...] = (
    SUBNET_MASK, TIME_OFFSET, ROUTER, DOMAIN_NAME_SERVER, HOST_NAME, DOMAIN_NAME,
    INTERFACE_MTU, BROADCAST_ADDRESS, NTP_SERVERS, VENDOR_SPECIFIC, NETBIOS_NAME_SERVERS,
    REQUESTED_ADDRESS, LEASE_TIME, OVERLOAD, MESSAGE_TYPE, SERVER_ID, PARAMETER_REQUEST_LIST,
    MESSAGE, MAX_MESSAGE_SIZE, RENEWAL_TIME, REBINDING_TIME, VENDOR_CLASS_ID, CLIENT_ID,
    TFTP_SERVER_NAME, BOOTFILE_NAME, USER_CLASS, RAPID_COMMIT, CLIENT_FQDN, RELAY_AGENT_INFO,
    SUBNET_SELECTION, DOMAIN_SEARCH, CLASSLESS_STATIC_ROUTE,
)  # fmt: skip

OPTION_DEFS: dict[int, OptionDef[Any]] = {d.code: d for d in _ALL_DEFS}
OPTION_DEFS_BY_NAME: dict[str, OptionDef[Any]] = {d.name: d for d in _ALL_DEFS}


class Options:
    """Ordered mapping option code -> raw value bytes.

    Values are the RFC 3396 section 6 concatenation of every instance of a code, so a
    value may be longer than 255 bytes; the encoder splits it again. Replacing a value with
    `set_raw` keeps its position in the order.
    """

    __slots__ = ("_d",)
    __hash__ = None  # type: ignore[assignment]  # mutable

    def __init__(self, items: Iterable[tuple[int, bytes]] = ()) -> None:
        self._d: dict[int, bytes] = {}
        for code, data in items:
            # RFC 3396 section 6: repeated codes are concatenated in order
            _check_code(code)
            prev = self._d.get(code)
            self._d[code] = bytes(data) if prev is None else prev + bytes(data)

    @classmethod
    def _adopt(cls, d: dict[int, bytes]) -> Options:
        # parse-time constructor: takes ownership of an already-validated dict
        self = cls()
        self._d = d
        return self

    def get_raw(self, code: int) -> bytes | None:
        return self._d.get(code)

    def set_raw(self, code: int, data: bytes) -> None:
        _check_code(code)
        self._d[code] = bytes(data)

    def get(self, option: OptionDef[T]) -> T | None:
        raw = self._d.get(option.code)
        if raw is None:
            return None
        try:
            return option.decode(raw)
        except MalformedPacket:
            raise
        except Exception as exc:  # a decoder bug must still surface as a malformed packet
            raise InvalidOption(option.code, f"cannot decode: {exc!r}") from exc

    def set(self, option: OptionDef[T], value: T) -> None:
        self.set_raw(option.code, option.encode(value))

    def delete(self, code: int) -> None:
        self._d.pop(code, None)

    def __contains__(self, code: object) -> bool:
        return code in self._d

    def __iter__(self) -> Iterator[int]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def items(self) -> list[tuple[int, bytes]]:
        return list(self._d.items())

    def copy(self) -> Options:
        return Options._adopt(dict(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Options):
            return NotImplemented
        # mapping equality: the encoder reorders (53 and 54 first), so order is not identity
        return self._d == other._d

    def __repr__(self) -> str:
        inner = ", ".join(f"{c}: {v.hex()}" for c, v in self._d.items())
        return f"Options({{{inner}}})"


def _check_code(code: int) -> None:
    # RFC 2132 section 2: 0 (PAD) and 255 (END) carry no value and are not options
    if not 1 <= code <= 254:
        raise ValueError(f"option code {code} must be in 1..254")
