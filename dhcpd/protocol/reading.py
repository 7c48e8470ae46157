"""What the handlers read from a request: typed options and who the client is.

Apart from exchange.py (whose Exchange record stays interpreted, dhcpd/records.py)
so that setup.py can compile these per-packet reads.
"""

from __future__ import annotations

from typing import TypeVar

from dhcpd.leases import Client, client_key
from dhcpd.wire import CLIENT_ID, HOST_NAME, DhcpMessage, MalformedPacket, OptionDef

T = TypeVar("T")


def optional(message: DhcpMessage, option: OptionDef[T]) -> T | None:
    """A typed option value, or None when absent or malformed (treated as not sent)."""
    try:
        return message.options.get(option)
    except MalformedPacket:
        return None


def client_of(message: DhcpMessage) -> Client:
    client_id = optional(message, CLIENT_ID)
    hw = message.hw_address
    return Client(client_key(client_id, hw), hw, client_id, optional(message, HOST_NAME))
