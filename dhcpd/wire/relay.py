"""Relay Agent Information option 82 (RFC 3046) and the sub-options the server reads."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from .errors import InvalidOption

__all__ = [
    "SUB_CIRCUIT_ID",
    "SUB_LINK_SELECTION",
    "SUB_REMOTE_ID",
    "SUB_SERVER_ID_OVERRIDE",
    "RelayAgentInfo",
    "decode_relay_agent_info",
    "encode_relay_agent_info",
]

_CODE = 82
SUB_CIRCUIT_ID = 1  # RFC 3046 section 3.1
SUB_REMOTE_ID = 2  # RFC 3046 section 3.2
SUB_LINK_SELECTION = 5  # RFC 3527 section 3
SUB_SERVER_ID_OVERRIDE = 11  # RFC 5107 section 4


@dataclass(frozen=True, slots=True)
class RelayAgentInfo:
    """Sub-options of option 82 in received order, values raw (RFC 3046 section 2.0)."""

    suboptions: tuple[tuple[int, bytes], ...] = ()

    def get(self, subcode: int) -> bytes | None:
        """Value of the first sub-option `subcode`, or None."""
        for code, value in self.suboptions:
            if code == subcode:
                return value
        return None

    @property
    def circuit_id(self) -> bytes | None:
        return self.get(SUB_CIRCUIT_ID)

    @property
    def remote_id(self) -> bytes | None:
        return self.get(SUB_REMOTE_ID)

    @property
    def link_selection(self) -> IPv4Address | None:
        """RFC 3527 section 3: the subnet the client is on, when giaddr cannot say it."""
        return self._address(SUB_LINK_SELECTION)

    @property
    def server_id_override(self) -> IPv4Address | None:
        """RFC 5107 section 4: address the client must use as server identifier."""
        return self._address(SUB_SERVER_ID_OVERRIDE)

    def _address(self, subcode: int) -> IPv4Address | None:
        value = self.get(subcode)
        if value is None:
            return None
        if len(value) != 4:
            raise InvalidOption(_CODE, f"sub-option {subcode} must be 4 bytes, got {len(value)}")
        return IPv4Address(value)


def decode_relay_agent_info(data: bytes) -> RelayAgentInfo:
    """RFC 3046 section 2.0: SubOpt/Len/Value triplets filling the option."""
    subs: list[tuple[int, bytes]] = []
    i = 0
    n = len(data)
    while i < n:
        if i + 2 > n:
            raise InvalidOption(_CODE, "sub-option header truncated")
        sub = data[i]
        end = i + 2 + data[i + 1]
        if end > n:
            raise InvalidOption(_CODE, f"sub-option {sub} runs past the option")
        subs.append((sub, bytes(data[i + 2 : end])))
        i = end
    return RelayAgentInfo(tuple(subs))


def encode_relay_agent_info(info: RelayAgentInfo) -> bytes:
    out = bytearray()
    for sub, value in info.suboptions:
        if not 0 <= sub <= 255:
            raise ValueError(f"relay sub-option code {sub} out of range")
        if len(value) > 255:
            raise ValueError(f"relay sub-option {sub} longer than 255 bytes")
        out += bytes((sub, len(value)))
        out += value
    return bytes(out)
