"""Sockets: the UDP endpoint and the ARP helper for unicast to unconfigured clients."""

from .errors import TransportError
from .outgoing import Outgoing
from .udp import UdpEndpoint

__all__ = ["Outgoing", "TransportError", "UdpEndpoint"]
