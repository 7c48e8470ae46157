"""structlog set-up: JSON when not on a terminal (journald, Docker), readable on one."""

from __future__ import annotations

import enum
import logging
import sys
import weakref
from collections.abc import Callable, MutableMapping
from contextvars import ContextVar
from ipaddress import IPv4Address
from typing import Any, Literal

import structlog

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}

_current: tuple[str, str] = ("info", "auto")  # the last configure_logging's arguments


def current_logging() -> tuple[str, str]:
    """(level, format) as last configured: a callout worker process logs alike."""
    return _current


METHODS = ("debug", "info", "warning", "error", "exception", "critical")


class Logger:
    """A module logger that is cheap on the hot path and follows reconfiguration.

    Its methods are the configured structlog logger's own, bound as plain
    attributes (a filtered-out level is structlog's no-op), and re-bound by
    every configure_logging. structlog's lazy proxy would instead rebuild its
    logger on every call.
    """

    __slots__ = ("__weakref__", "_name", *METHODS)

    debug: Callable[..., Any]
    info: Callable[..., Any]
    warning: Callable[..., Any]
    error: Callable[..., Any]
    exception: Callable[..., Any]
    critical: Callable[..., Any]

    def __init__(self, name: str) -> None:
        self._name = name
        self._bind()
        _loggers.add(self)

    def _bind(self) -> None:
        bound = structlog.get_logger(self._name).bind()
        for method in METHODS:
            setattr(self, method, getattr(bound, method))


_loggers: weakref.WeakSet[Logger] = weakref.WeakSet()


def get_logger(name: str) -> Logger:
    return Logger(name)


# --- the packet a log line is about -------------------------------------------
# Each packet runs in its own context (dhcpd/scheduler.py); the fields are
# formatted only when a line is actually written.

# (xid, client, interface); the compiled pipeline sets it directly, per packet.
PACKET_CONTEXT: ContextVar[tuple[int, object, str] | None] = ContextVar(
    "dhcpd_packet", default=None)


def set_packet_context(xid: int, client: object, interface: str) -> None:
    """Every log line of this packet's exchange names its xid, client and interface."""
    PACKET_CONTEXT.set((xid, client, interface))


def _add_packet_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    packet = PACKET_CONTEXT.get()
    if packet is not None:
        xid, client, interface = packet
        event_dict.setdefault("xid", f"{xid:#010x}")
        event_dict.setdefault("client", str(client))
        event_dict.setdefault("interface", interface)
    return event_dict


def _plain_values(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Addresses and enum members may be logged as objects (no str() or .value,
    # both interpreted, on the hot path when the level is filtered out); written
    # lines carry their text form and their value.
    for key, value in event_dict.items():
        if isinstance(value, IPv4Address):
            event_dict[key] = str(value)
        elif isinstance(value, enum.Enum):
            event_dict[key] = value.value
    return event_dict


def configure_logging(
    level: str = "info", fmt: Literal["auto", "json", "console"] = "auto"
) -> None:
    global _current
    _current = (level, fmt)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_packet_context,
            _plain_values,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=LEVELS[level], stream=sys.stderr)
    rebind_loggers()


def rebind_loggers() -> None:
    """Re-bind every module logger to structlog's current configuration (done by
    configure_logging; tests call it around structlog.testing.capture_logs)."""
    for logger in list(_loggers):
        logger._bind()
