"""IPv4Address to and from its integer, without ipaddress's interpreted code.

ipaddress keeps an address as an int in its `_ip` slot. `int(address)` and
`IPv4Address(value)` run interpreted Python (~150 and ~600 ns); these read
and write the slot (~7 and ~50 ns, compiled). The server converts some fifty
times per DORA (index keys, pool bounds, header fields, option values).
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Final

_new: Final = object.__new__


def address_int(address: IPv4Address) -> int:
    """int(address)."""
    value: int = address._ip  # type: ignore[attr-defined]
    return value


def address_bytes(address: IPv4Address) -> bytes:
    """address.packed."""
    return address_int(address).to_bytes(4, "big")


def address_of(value: int) -> IPv4Address:
    """IPv4Address(value), for 0 <= value < 2**32: not checked, so only for values
    that cannot be out of range (four bytes of a packet, an address's own int)."""
    address: IPv4Address = _new(IPv4Address)
    address._ip = value  # type: ignore[attr-defined]
    return address
