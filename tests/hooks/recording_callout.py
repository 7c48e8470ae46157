"""A callout that appends one JSON line per hook call to settings["path"] (for tests)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dhcpd.hooks import HookTable


def dhcp_server_callout_entry(
    chain: tuple[str, ...], api_version: int, settings: Mapping[str, Mapping[str, Any]]
) -> HookTable:
    path = settings[__name__]["path"]

    def record(slot: str) -> Any:
        def hook(event: Any) -> None:
            detail = {
                "hook": slot,
                "code": getattr(event, "code", None) or getattr(event, "reason", None)
                or getattr(event, "kind", None),
                "address": str(getattr(event, "address", "")),
            }
            with open(path, "a", encoding="utf-8") as log:
                log.write(json.dumps(detail, default=int) + "\n")
        return hook

    return HookTable(**{slot: record(slot) for slot in (
        "control", "new_packet", "packet_drop", "packet_send", "address_del",
        "address_offer", "handle_options", "delete_client")})
