"""Client hardware addresses (chaddr/htype/hlen of RFC 2131 section 2)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dhcpd.records import native_record

__all__ = ["HardwareAddress"]

# aa:bb:cc:dd:ee:ff or aa-bb-... (1 or 2 hex digits per group, as printed by many tools)
_SEP_RE = re.compile(r"[0-9A-Fa-f]{1,2}(?:([:-])[0-9A-Fa-f]{1,2})*")
# Cisco style aabb.ccdd.eeff
_DOT_RE = re.compile(r"[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4})+")
_BARE_RE = re.compile(r"(?:[0-9A-Fa-f]{2})+")


@dataclass(frozen=True, slots=True, init=False)
class HardwareAddress:
    """A link-layer address; `htype` is the ARP hardware type (1 = Ethernet)."""

    htype: int
    address: bytes

    def __init__(self, htype: int, address: bytes) -> None:
        # RFC 2131 section 2: htype is one octet, chaddr holds at most 16 octets
        if not 0 <= htype <= 255:
            raise ValueError(f"htype {htype} out of range 0..255")
        if len(address) > 16:
            raise ValueError("hardware address longer than 16 bytes")
        self.htype = htype  # type: ignore[misc]  # frozen: the only stores
        self.address = address  # type: ignore[misc]

    def __str__(self) -> str:
        return self.address.hex(":")

    @classmethod
    def parse(cls, text: str, htype: int = 1) -> HardwareAddress:
        """Parse a configured address; raises ValueError (this is for config, not the wire)."""
        s = text.strip()
        if _SEP_RE.fullmatch(s):
            seps = {c for c in s if c in ":-"}
            if len(seps) > 1:
                raise ValueError(f"mixed separators in hardware address {text!r}")
            return cls(htype, bytes(int(g, 16) for g in re.split(r"[:-]", s)))
        if _DOT_RE.fullmatch(s):
            return cls(htype, bytes.fromhex(s.replace(".", "")))
        if _BARE_RE.fullmatch(s):
            return cls._from_bare(s, text, htype)
        raise ValueError(f"invalid hardware address {text!r}")

    @classmethod
    def _from_bare(cls, s: str, text: str, htype: int) -> HardwareAddress:
        if len(s) % 2:
            raise ValueError(f"invalid hardware address {text!r}")
        return cls(htype, bytes.fromhex(s))


native_record(HardwareAddress)
