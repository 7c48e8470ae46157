"""Chaining: the active callout loads the rest of its list and fans events out.

In Microsoft's design chaining is the loaded DLL's job ("Chaining Multiple
Third-Party DLLs"). This helper does it correctly in one call:

    from dhcpd.hooks import HookTable, chain_callouts

    def dhcp_server_callout_entry(chain, api_version, settings):
        return chain_callouts(chain, api_version, settings, own=HookTable(...))

Each event goes to the modules in order (`own` first, then the chain in its
order). A chained module that fails to load is logged and left out; a chained
hook that raises is logged and the others are still called. new_packet
replacements and packet_send replacements pass from one module to the next;
each module keeps its own packet context.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from dhcpd.logsetup import get_logger

from .api import HOOK_NAMES, HookTable, NewPacketVerdict
from .dispatcher import is_async
from .loader import CalloutLoadError, call_entry

log = get_logger("dhcpd.hooks")

Member = tuple[str, HookTable]


def chain_callouts(
    chain: Sequence[str],
    api_version: int,
    settings: Mapping[str, Mapping[str, Any]],
    own: HookTable | None = None,
    name: str = "primary",
) -> HookTable:
    """Load every module of `chain` and return one table that calls them all."""
    members: list[Member] = [(name, own)] if own is not None else []
    for entry in chain:
        try:
            # Chained modules get an empty chain: the primary does the chaining.
            members.append((entry, call_entry(entry, (), settings)))
        except CalloutLoadError as exc:
            log.error("callout_chain_load_failed", module=entry, error=str(exc))
    return fan_out(members)


def fan_out(members: Sequence[Member]) -> HookTable:
    slots: dict[str, Any] = {}
    for slot in HOOK_NAMES:
        hooks = [(entry, getattr(table, slot)) for entry, table in members
                 if getattr(table, slot) is not None]
        if hooks:
            slots[slot] = _FANOUT[slot](hooks)
    return HookTable(**slots)


async def _call(entry: str, slot: str, hook: Any, event: Any) -> Any:
    """One chained hook, contained: a failure is logged and reported as None."""
    try:
        if is_async(hook):
            return await hook(event)
        return await asyncio.to_thread(hook, event)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("callout_chain_hook_failed", module=entry, hook=slot,
                    error=f"{type(exc).__name__}: {exc}")
        return None


def _own_context(event: Any, entry: str) -> Any:
    contexts = getattr(event, "context", None)
    if isinstance(contexts, _Contexts):
        return dataclasses.replace(event, context=contexts.get(entry))
    return event


class _Contexts(dict[str, Any]):
    """The packet context of a fan-out: one per chained module."""


def _observer(slot: str, hooks: list[tuple[str, Any]]) -> Any:
    async def observe(event: Any) -> None:
        for entry, hook in hooks:
            await _call(entry, slot, hook, _own_context(event, entry))
    return observe


def _new_packet(hooks: list[tuple[str, Any]]) -> Any:
    async def new_packet(event: Any) -> NewPacketVerdict:
        contexts = _Contexts()
        packet: bytes | None = None
        process = True
        for entry, hook in hooks:
            current = event if packet is None else dataclasses.replace(event, packet=packet)
            verdict = await _call(entry, "new_packet", hook, current)
            if isinstance(verdict, NewPacketVerdict):
                if isinstance(verdict.packet, bytes | bytearray):
                    packet = bytes(verdict.packet)
                contexts[entry] = verdict.context
                process = process and verdict.process is not False
        return NewPacketVerdict(packet=packet, context=contexts, process=process)
    return new_packet


def _packet_send(hooks: list[tuple[str, Any]]) -> Any:
    async def packet_send(event: Any) -> bytes | None:
        response: bytes | None = None
        for entry, hook in hooks:
            current = _own_context(event, entry)
            if response is not None:
                current = dataclasses.replace(current, response=response)
            replaced = await _call(entry, "packet_send", hook, current)
            if isinstance(replaced, bytes | bytearray):
                response = bytes(replaced)
        return response
    return packet_send


_FANOUT: dict[str, Any] = {
    slot: (lambda hooks, slot=slot: _observer(slot, hooks)) for slot in HOOK_NAMES
}
_FANOUT["new_packet"] = _new_packet
_FANOUT["packet_send"] = _packet_send
