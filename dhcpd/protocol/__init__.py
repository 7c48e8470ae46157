"""The server's decisions, without sockets: requests in, outcomes out."""

from .server import DhcpProtocol
from .types import Destination, DropReason, Outcome, ReceiveContext, Reply

__all__ = ["Destination", "DhcpProtocol", "DropReason", "Outcome", "ReceiveContext", "Reply"]
