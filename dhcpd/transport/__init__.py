"""Sockets: the UDP endpoint and the ARP helper for unicast to unconfigured clients."""

from .outgoing import Outgoing, TransportError
from .udp import UdpEndpoint

__all__ = ["Outgoing", "TransportError", "UdpEndpoint"]
