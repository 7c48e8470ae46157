"""Errors raised by the wire codec.

Every parse or decode failure is a `MalformedPacket` (itself a `ValueError`), so the
transport can drop a bad datagram with a single ``except MalformedPacket``.
"""

from __future__ import annotations

__all__ = ["BadMagicCookie", "InvalidOption", "MalformedPacket", "TruncatedPacket"]


class MalformedPacket(ValueError):
    """Root of every parse/decode error of the codec."""


class TruncatedPacket(MalformedPacket):
    """The datagram ends before a field or an option it announces."""


class BadMagicCookie(MalformedPacket):
    """The four bytes after the fixed header are not 99.130.83.99 (RFC 2131 section 3)."""


class InvalidOption(MalformedPacket):
    """One option's value is invalid; the rest of the packet may still be usable."""

    code: int

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"option {code}: {reason}")

    def __reduce__(self) -> tuple[type[InvalidOption], tuple[int, str]]:
        # keeps the two-argument constructor picklable (e.g. across worker processes)
        return (type(self), (self.code, self.reason))
