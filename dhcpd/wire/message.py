"""The DHCPv4 message: RFC 2131 section 2 fixed header plus the options field."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from .addresses import address_int, address_of
from .constants import (
    BOOTP_MIN_PACKET,
    BOOTREPLY,
    BOOTREQUEST,
    FIXED_HEADER_SIZE,
    FLAG_BROADCAST,
    IP_UDP_HEADER_SIZE,
    MAGIC_COOKIE,
    MIN_MESSAGE_SIZE,
    MessageType,
)
from .errors import BadMagicCookie, InvalidOption, MalformedPacket, TruncatedPacket
from .hwaddr import HardwareAddress
from .options import MESSAGE_TYPE, MESSAGE_TYPES_BY_WIRE, Options

__all__ = ["PROTECTED_OPTIONS", "DhcpMessage"]

# RFC 2131 section 2, figure 1: op htype hlen hops xid secs flags ciaddr yiaddr siaddr giaddr
# chaddr(16) sname(64) file(128); addresses as u32 so IPv4Address(int) is cheap
_HEADER = struct.Struct("!BBBBIHHIIII16s64s128s")
assert _HEADER.size == FIXED_HEADER_SIZE
_OPTIONS_START = FIXED_HEADER_SIZE + 4  # after the magic cookie

_OPT_OVERLOAD = 52
_OPT_MESSAGE_TYPE = 53
_OPT_SERVER_ID = 54
# RFC 2131 section 4.1 / RFC 2132 section 9.3: overload value bits
_OVERLOAD_FILE = 1
_OVERLOAD_SNAME = 2

# never dropped to make a reply fit: message type, server id, lease time, subnet mask and
# relay agent info (RFC 3046 section 2.2 requires echoing 82 to the relay)
PROTECTED_OPTIONS: frozenset[int] = frozenset({53, 54, 51, 1, 82})

_ZERO_IP = IPv4Address(0)
_ZERO_SNAME = bytes(64)
_ZERO_FILE = bytes(128)
_ZERO_CHADDR = bytes(16)


def _ip(value: int) -> IPv4Address:
    # most header addresses of requests are 0.0.0.0: share one object
    return _ZERO_IP if value == 0 else address_of(value)


def _scan(buf: bytes, pos: int, end: int, out: dict[int, bytes]) -> None:
    """Read options from buf[pos:end] into `out` (RFC 2132 section 2).

    PAD is skipped, END stops the scan, a missing END is tolerated (many clients omit it),
    and repeated codes are concatenated in order (RFC 3396 section 6).
    """
    while pos < end:
        code = buf[pos]
        if code == 0:  # PAD
            pos += 1
            continue
        if code == 255:  # END
            return
        if pos + 1 >= end:
            raise TruncatedPacket(f"option {code} has no length octet")
        nxt = pos + 2 + buf[pos + 1]
        if nxt > end:
            raise TruncatedPacket(f"option {code} runs past the end of its field")
        value = buf[pos + 2 : nxt]
        prev = out.get(code)
        out[code] = value if prev is None else prev + value
        pos = nxt


def _instances(code: int, value: bytes) -> list[bytes]:
    """Wire form of one option; RFC 3396 section 7 splits values over 255 bytes into
    consecutive instances of the same code."""
    n = len(value)
    if n <= 255:
        return [bytes((code, n)) + value]
    return [
        bytes((code, len(chunk))) + chunk
        for chunk in (value[i : i + 255] for i in range(0, n, 255))
    ]


def _layout(
    opts: list[tuple[int, list[bytes]]], caps: list[int]
) -> list[list[bytes]] | None:
    """Place option instances in order into areas of the given capacities (END excluded).

    Instances are never split further; a value's instances stay in area order so the
    RFC 3396 join (options field, then file, then sname) restores it. None if they don't fit.
    """
    areas: list[list[bytes]] = [[] for _ in caps]
    idx = 0
    used = 0
    for _code, insts in opts:
        for inst in insts:
            size = len(inst)
            while used + size > caps[idx]:
                idx += 1
                used = 0
                if idx == len(caps):
                    return None
            areas[idx].append(inst)
            used += size
    return areas


# init=False: the __init__ below is compiled with the module (setup.py); the one the
# dataclass decorator would generate at run time stays interpreted, ~4x slower.
@dataclass(slots=True, init=False)
class DhcpMessage:
    """A BOOTP/DHCP message. All fields have defaults so replies can be built by keyword."""

    op: int = BOOTREQUEST
    htype: int = 1
    hlen: int = 6
    hops: int = 0
    xid: int = 0
    secs: int = 0
    flags: int = 0
    ciaddr: IPv4Address = _ZERO_IP
    yiaddr: IPv4Address = _ZERO_IP
    siaddr: IPv4Address = _ZERO_IP
    giaddr: IPv4Address = _ZERO_IP
    chaddr: bytes = _ZERO_CHADDR  # always 16 bytes; the address is chaddr[:hlen]
    sname: bytes = _ZERO_SNAME  # 64 bytes; zeroed when it carried overloaded options
    file: bytes = _ZERO_FILE  # 128 bytes; zeroed when it carried overloaded options
    options: Options = field(default_factory=Options)
    # Option 52 as received (RFC 2132 section 9.3), 0 when absent. Its effect is
    # already applied: the options found in file/sname are in `options`. Kept
    # for the callouts (DHCP_SERVER_OPTIONS has it); ignored when encoding.
    overload: int = field(default=0, compare=False)

    def __init__(
        self,
        op: int = BOOTREQUEST,
        htype: int = 1,
        hlen: int = 6,
        hops: int = 0,
        xid: int = 0,
        secs: int = 0,
        flags: int = 0,
        ciaddr: IPv4Address = _ZERO_IP,
        yiaddr: IPv4Address = _ZERO_IP,
        siaddr: IPv4Address = _ZERO_IP,
        giaddr: IPv4Address = _ZERO_IP,
        chaddr: bytes = _ZERO_CHADDR,
        sname: bytes = _ZERO_SNAME,
        file: bytes = _ZERO_FILE,
        options: Options | None = None,
        overload: int = 0,
    ) -> None:
        self.op = op
        self.htype = htype
        self.hlen = hlen
        self.hops = hops
        self.xid = xid
        self.secs = secs
        self.flags = flags
        self.ciaddr = ciaddr
        self.yiaddr = yiaddr
        self.siaddr = siaddr
        self.giaddr = giaddr
        self.chaddr = chaddr
        self.sname = sname
        self.file = file
        self.options = Options() if options is None else options
        self.overload = overload

    # --- parsing ---

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> DhcpMessage:
        """Parse a UDP payload; raises only MalformedPacket subclasses."""
        if type(data) is not bytes:
            data = bytes(data)
        size = len(data)
        if size < FIXED_HEADER_SIZE:
            raise TruncatedPacket(f"{size} bytes is shorter than the 236-byte fixed header")
        (
            op, htype, hlen, hops, xid, secs, flags,
            ciaddr, yiaddr, siaddr, giaddr, chaddr, sname, file,
        ) = _HEADER.unpack_from(data)  # fmt: skip
        # RFC 2131 section 2: op is 1 (BOOTREQUEST) or 2 (BOOTREPLY); chaddr has 16 octets
        if op != BOOTREQUEST and op != BOOTREPLY:
            raise MalformedPacket(f"op {op} is neither BOOTREQUEST nor BOOTREPLY")
        if hlen > 16:
            raise MalformedPacket(f"hlen {hlen} exceeds the 16-byte chaddr field")

        found: dict[int, bytes] = {}
        overload = 0
        if size >= _OPTIONS_START:
            # RFC 2131 section 3: options start with the magic cookie
            if data[FIXED_HEADER_SIZE:_OPTIONS_START] != MAGIC_COOKIE:
                raise BadMagicCookie("options field does not start with 99.130.83.99")
            _scan(data, _OPTIONS_START, size, found)
            overload_raw = found.pop(_OPT_OVERLOAD, None)
            if overload_raw is not None:
                # RFC 2131 section 4.1 / RFC 2132 section 9.3: the file field is read
                # before sname; RFC 3396 section 6 joins in that same order
                if len(overload_raw) != 1 or not 1 <= overload_raw[0] <= 3:
                    raise InvalidOption(_OPT_OVERLOAD, f"invalid overload value {overload_raw!r}")
                overload = overload_raw[0]
                if overload & _OVERLOAD_FILE:
                    _scan(file, 0, 128, found)
                    file = _ZERO_FILE
                if overload & _OVERLOAD_SNAME:
                    _scan(sname, 0, 64, found)
                    sname = _ZERO_SNAME
                # 52 is only meaningful in the options field; the overload has been applied
                found.pop(_OPT_OVERLOAD, None)
        # else: 236..239 bytes is a BOOTP packet without a vendor area: no options

        return DhcpMessage(
            op, htype, hlen, hops, xid, secs, flags,
            _ip(ciaddr), _ip(yiaddr), _ip(siaddr), _ip(giaddr),
            chaddr, sname, file, Options._adopt(found), overload,
        )  # fmt: skip

    # --- encoding ---

    def encode(self, max_size: int = MIN_MESSAGE_SIZE) -> bytes:
        """Encode to a UDP payload that fits in `max_size` (see encode_with_report)."""
        return self.encode_with_report(max_size)[0]

    def encode_with_report(self, max_size: int = MIN_MESSAGE_SIZE) -> tuple[bytes, tuple[int, ...]]:
        """Encode to a UDP payload; return it and the option codes omitted to fit.

        `max_size` is the largest IP datagram the client accepts (RFC 2132 section 9.10
        counts the IP and UDP headers), so the payload gets max_size - 28 bytes. Callers
        pass max(576, option 57). Order: 53, 54, then insertion order, END last. If the
        options do not fit, the file and then sname fields carry the rest (RFC 2131 section
        4.1, option 52) when those fields are empty; if still too large, options are omitted,
        keeping the earliest ones in order and never dropping PROTECTED_OPTIONS (ValueError
        if even those cannot fit). Any option 52 in `options` is ignored: the encoder decides.
        """
        budget = max_size - IP_UDP_HEADER_SIZE
        if budget < BOOTP_MIN_PACKET:
            raise ValueError(f"max_size {max_size} cannot hold a {BOOTP_MIN_PACKET}-byte payload")
        chaddr, sname, file = self.chaddr, self.sname, self.file
        if len(chaddr) != 16:
            if len(chaddr) > 16:
                raise ValueError("chaddr longer than 16 bytes")
            chaddr = chaddr.ljust(16, b"\x00")
        if len(sname) != 64:
            if len(sname) > 64:
                raise ValueError("sname longer than 64 bytes")
            sname = sname.ljust(64, b"\x00")
        if len(file) != 128:
            if len(file) > 128:
                raise ValueError("file longer than 128 bytes")
            file = file.ljust(128, b"\x00")

        # option order: 53, 54, then the rest as inserted (clients look for 53 early)
        d = self.options._d
        ordered: list[tuple[int, bytes]] = []
        for code in (_OPT_MESSAGE_TYPE, _OPT_SERVER_ID):
            value = d.get(code)
            if value is not None:
                ordered.append((code, value))
        for code, value in d.items():
            if code != _OPT_MESSAGE_TYPE and code != _OPT_SERVER_ID and code != _OPT_OVERLOAD:
                ordered.append((code, value))

        parts: list[bytes] = []
        total = 0
        for code, value in ordered:
            n = len(value)
            if n <= 255:
                parts.append(bytes((code, n)))
                parts.append(value)
                total += 2 + n
            else:
                for inst in _instances(code, value):
                    parts.append(inst)
                    total += len(inst)

        opt_cap = budget - _OPTIONS_START - 1  # room for options in the options field, END aside
        omitted: tuple[int, ...] = ()
        if total <= opt_cap:
            # fast path: everything fits in the options field
            body = b"".join(parts)
        else:
            body, file, sname, omitted = self._fit(ordered, opt_cap, file, sname)

        header = _HEADER.pack(
            self.op, self.htype, self.hlen, self.hops, self.xid, self.secs, self.flags,
            address_int(self.ciaddr), address_int(self.yiaddr), address_int(self.siaddr),
            address_int(self.giaddr),
            chaddr, sname, file,
        )  # fmt: skip
        out = b"".join((header, MAGIC_COOKIE, body, b"\xff"))
        if len(out) < BOOTP_MIN_PACKET:
            # RFC 1542 section 2.1: pad short replies to the BOOTP size
            out += bytes(BOOTP_MIN_PACKET - len(out))
        return out, omitted

    @staticmethod
    def _fit(
        ordered: list[tuple[int, bytes]], opt_cap: int, file: bytes, sname: bytes
    ) -> tuple[bytes, bytes, bytes, tuple[int, ...]]:
        """Slow path: overload (RFC 2131 section 4.1) and, failing that, omit options."""
        opts = [(code, _instances(code, value)) for code, value in ordered]
        use_file = not any(file)
        use_sname = not any(sname)
        if use_file or use_sname:
            # 3 bytes of the options field go to option 52 itself (RFC 2132 section 9.3);
            # each overloaded field ends with its own END (RFC 2131 section 4.1)
            caps = [opt_cap - 3]
            if use_file:
                caps.append(128 - 1)
            if use_sname:
                caps.append(64 - 1)
        else:
            caps = [opt_cap]

        areas = _layout(opts, caps)
        omitted: list[int] = []
        if areas is None:
            # keep protected options, then add the others in order as long as they fit
            keep = {code for code, _ in opts if code in PROTECTED_OPTIONS}
            areas = _layout([o for o in opts if o[0] in keep], caps)
            if areas is None:
                raise ValueError("protected options alone do not fit in max_size")
            for code, _ in opts:
                if code in keep:
                    continue
                trial = _layout([o for o in opts if o[0] in keep or o[0] == code], caps)
                if trial is None:
                    omitted.append(code)
                else:
                    keep.add(code)
                    areas = trial

        body_parts = areas[0]
        overload = 0
        if len(caps) > 1:
            extra = dict(zip(
                [f for f, used in (("file", use_file), ("sname", use_sname)) if used],
                areas[1:],
                strict=True,
            ))  # fmt: skip
            file_area = extra.get("file")
            sname_area = extra.get("sname")
            if file_area:
                overload |= _OVERLOAD_FILE
                file = (b"".join(file_area) + b"\xff").ljust(128, b"\x00")
            if sname_area:
                overload |= _OVERLOAD_SNAME
                sname = (b"".join(sname_area) + b"\xff").ljust(64, b"\x00")
        body = b"".join(body_parts)
        if overload:
            body += bytes((_OPT_OVERLOAD, 1, overload))  # RFC 2132 section 9.3
        return body, file, sname, tuple(omitted)

    # --- convenience ---

    @property
    def hw_address(self) -> HardwareAddress:
        return HardwareAddress(self.htype, self.chaddr[: self.hlen])

    @property
    def message_type(self) -> MessageType | None:
        """Option 53; None for BOOTP. Raises InvalidOption when option 53 is invalid."""
        raw = self.options._d.get(_OPT_MESSAGE_TYPE)
        if raw is None:
            return None
        kind = MESSAGE_TYPES_BY_WIRE.get(raw)  # the hot path: every packet, several times
        return kind if kind is not None else self.options.get(MESSAGE_TYPE)

    @property
    def broadcast_flag(self) -> bool:
        return bool(self.flags & FLAG_BROADCAST)  # RFC 2131 section 2, figure 2

    def copy(self) -> DhcpMessage:
        return DhcpMessage(
            self.op, self.htype, self.hlen, self.hops, self.xid, self.secs, self.flags,
            self.ciaddr, self.yiaddr, self.siaddr, self.giaddr,
            self.chaddr, self.sname, self.file, self.options.copy(), self.overload,
        )  # fmt: skip
