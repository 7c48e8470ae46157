"""Loading callout modules: Microsoft's rules, with Python modules for DLLs.

The configured entries are taken in alphabetical order; the first that
imports, has the entry function and accepts is the one active module, and it
receives the entries after it as its chain. Each failure is logged (one
structured event naming the module and the error) and the next entry tried.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from dhcpd.logsetup import get_logger

from .api import CALLOUT_API_VERSION, ENTRY_FUNCTION, CalloutRefused, HookTable

log = get_logger("dhcpd.hooks")


class CalloutLoadError(Exception):
    """One module could not be loaded; the message says why."""


@dataclass(frozen=True, slots=True)
class LoadedCallout:
    entry: str  # as configured: a .py path or a dotted module name
    table: HookTable
    chain: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LoadReport:
    active: LoadedCallout | None
    failures: tuple[tuple[str, str], ...]  # (entry, reason) for each one tried before


def import_callout(entry: str) -> ModuleType:
    """Import a callout given as a path to a .py file or as a dotted module name."""
    try:
        if entry.endswith(".py") or "/" in entry:
            path = Path(entry).resolve()
            if not path.is_file():
                raise CalloutLoadError(f"no such file: {path}")
            # A private module name per path, so two files named alike don't clash.
            digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
            name = f"dhcpd_callout_{path.stem}_{digest}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise CalloutLoadError(f"cannot load {path} as a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            return module
        return importlib.import_module(entry)
    except CalloutLoadError:
        raise
    except SystemExit as exc:
        raise CalloutLoadError(f"import called sys.exit({exc.code})") from None
    except Exception as exc:
        raise CalloutLoadError(f"import failed: {type(exc).__name__}: {exc}") from exc


def call_entry(
    entry: str,
    chain: tuple[str, ...],
    settings: Mapping[str, Mapping[str, Any]],
) -> HookTable:
    """Import `entry` and run its entry function; raise CalloutLoadError on refusal."""
    module = import_callout(entry)
    function = getattr(module, ENTRY_FUNCTION, None)
    if not callable(function):
        raise CalloutLoadError(f"no {ENTRY_FUNCTION}() in the module")
    try:
        table = function(chain, CALLOUT_API_VERSION, settings)
    except CalloutRefused as exc:
        raise CalloutLoadError(f"refused: {exc}") from None
    except Exception as exc:
        raise CalloutLoadError(f"{ENTRY_FUNCTION} raised {type(exc).__name__}: {exc}") from exc
    if table is None:
        raise CalloutLoadError("refused (returned None)")
    if not isinstance(table, HookTable):
        raise CalloutLoadError(
            f"{ENTRY_FUNCTION} returned {type(table).__name__}, not a HookTable"
        )
    for name in table.filled():
        if not callable(getattr(table, name)):
            raise CalloutLoadError(f"hook {name} is not callable")
    return table


def load_callouts(
    entries: Sequence[str], settings: Mapping[str, Mapping[str, Any]]
) -> LoadReport:
    """Microsoft's loading rule: alphabetical, first success wins, the rest is its chain."""
    ordered = sorted(entries)
    failures: list[tuple[str, str]] = []
    for index, entry in enumerate(ordered):
        chain = tuple(ordered[index + 1 :])
        try:
            table = call_entry(entry, chain, settings)
        except CalloutLoadError as exc:
            log.error("callout_load_failed", module=entry, error=str(exc))
            failures.append((entry, str(exc)))
            continue
        log.info("callout_loaded", module=entry, chain=list(chain), hooks=list(table.filled()))
        return LoadReport(LoadedCallout(entry, table, chain), tuple(failures))
    return LoadReport(None, tuple(failures))
