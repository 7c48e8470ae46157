"""The control API: JSON lines over a Unix socket (and optionally TCP), and its client."""

from .commands import Commands, ControlTarget
from .models import ControlRequest, ControlResponse
from .server import ControlError, ControlServer

__all__ = [
    "Commands", "ControlError", "ControlRequest", "ControlResponse", "ControlServer",
    "ControlTarget",
]
