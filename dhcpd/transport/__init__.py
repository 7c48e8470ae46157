"""Sockets: the UDP endpoint and the ARP helper for unicast to unconfigured clients."""

from .udp import Outgoing, TransportError, UdpEndpoint

__all__ = ["Outgoing", "TransportError", "UdpEndpoint"]
