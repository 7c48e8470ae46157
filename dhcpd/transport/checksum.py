"""The Internet checksum (RFC 1071), for the headers this package builds itself."""

from __future__ import annotations

import struct


def internet_checksum(data: bytes) -> int:
    """One's complement of the one's complement sum of the 16-bit words of `data`
    (an odd length is padded with a zero byte)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
