"""structlog set-up: JSON when not on a terminal (journald, Docker), readable on one."""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import structlog

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}

# Bumped by every configure_logging, so cached loggers pick up a new level.
_generation = 0
_current: tuple[str, str] = ("info", "auto")  # the last configure_logging's arguments


def current_logging() -> tuple[str, str]:
    """(level, format) as last configured: a callout worker process logs alike."""
    return _current


class Logger:
    """A module logger that is cheap on the hot path and follows reconfiguration.

    structlog's lazy proxy rebuilds its logger on every call unless cached, and
    a cached one never sees a new level; this caches per configuration.
    """

    __slots__ = ("_bound", "_generation", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._generation = -1
        self._bound: Any = None

    def _current(self) -> Any:
        if self._generation != _generation:
            self._bound = structlog.get_logger(self._name).bind()
            self._generation = _generation
        return self._bound

    def __getattr__(self, method: str) -> Any:
        return getattr(self._current(), method)


def get_logger(name: str) -> Logger:
    return Logger(name)


def configure_logging(
    level: str = "info", fmt: Literal["auto", "json", "console"] = "auto"
) -> None:
    global _generation, _current
    _generation += 1
    _current = (level, fmt)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
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
