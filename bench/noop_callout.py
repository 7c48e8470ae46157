"""A callout that fills every slot with a hook doing nothing, for the benchmark.

settings: {mode: async | plain}: `async def` hooks (awaited on the event loop)
or plain functions (run in the server's thread pool).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dhcpd.hooks import HookTable

SLOTS = ("control", "new_packet", "packet_drop", "packet_send", "address_del",
         "address_offer", "handle_options", "delete_client")


async def _async_noop(event: Any) -> None:
    return None


def _plain_noop(event: Any) -> None:
    return None


def dhcp_server_callout_entry(
    chain: tuple[str, ...], api_version: int, settings: Mapping[str, Mapping[str, Any]]
) -> HookTable:
    mine = next((value for key, value in settings.items() if key.endswith("noop_callout.py")),
                {})
    hook = _plain_noop if mine.get("mode") == "plain" else _async_noop
    return HookTable(**{slot: hook for slot in SLOTS})
