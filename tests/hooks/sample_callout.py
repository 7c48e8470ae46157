"""A minimal callout module, loaded by dotted name in the loader tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dhcpd.hooks import ControlEvent, HookTable


async def control(event: ControlEvent) -> None:
    pass


def dhcp_server_callout_entry(
    chain: tuple[str, ...], api_version: int, settings: Mapping[str, Mapping[str, Any]]
) -> HookTable:
    return HookTable(control=control)
