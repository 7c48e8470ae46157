"""Running as a service: systemd notification, privilege drop, health socket."""

from .lifecycle import ServiceRuntime

__all__ = ["ServiceRuntime"]
