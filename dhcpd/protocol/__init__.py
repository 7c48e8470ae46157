"""The server's decisions, without sockets: requests in, outcomes out."""

from .exchange import NO_PROBER, Prober
from .server import DhcpProtocol
from .types import Destination, DropReason, Outcome, ReceiveContext, Reply

__all__ = [
    "NO_PROBER", "Destination", "DhcpProtocol", "DropReason", "Outcome", "Prober",
    "ReceiveContext", "Reply",
]
