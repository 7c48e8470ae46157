"""hello_callout: the tutorial callout of docs/callouts.md.

It logs the service's START and STOP, logs every lease the server grants
(address_offer, directly before the DHCPACK or BOOTP reply), and refuses the
clients whose MAC address is listed in its `deny` setting: their packets are
not processed (new_packet hands back process=False), so they get no answer.

Load it with (in the daemon's YAML):

    callouts:
      enabled: true
      modules: [hello_callout.py]
      settings:
        hello_callout.py:
          deny: ["02:00:00:00:00:66"]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from dhcpd.hooks import (
    CALLOUT_API_VERSION,
    AddressOfferEvent,
    CalloutRefused,
    ControlEvent,
    HookTable,
    NewPacketEvent,
    NewPacketVerdict,
    PacketDropEvent,
)
from dhcpd.wire import DhcpMessage, HardwareAddress, MalformedPacket

log = structlog.get_logger("callout.hello")


def my_settings(settings: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    """This module's own settings.

    `settings` is keyed by every entry exactly as written in `callouts.modules`
    (a path, possibly relative to the daemon's working directory, or a dotted
    module name), and the entry function is not told which key is its own, so
    we find the key that names this file.
    """
    me = Path(__file__).resolve()
    for entry, values in settings.items():
        if entry == __name__ or (entry.endswith(".py") and Path(entry).resolve() == me):
            return values
    return {}


def dhcp_server_callout_entry(
    chain: tuple[str, ...],
    api_version: int,
    settings: Mapping[str, Mapping[str, Any]],
) -> HookTable:
    if api_version != CALLOUT_API_VERSION:
        # Refusing: the loader logs callout_load_failed and tries the next module.
        raise CalloutRefused(f"written for API version {CALLOUT_API_VERSION}, got {api_version}")
    own = my_settings(settings)
    try:
        denied = frozenset(HardwareAddress.parse(text).address for text in own.get("deny", []))
    except ValueError as exc:
        raise CalloutRefused(f"bad deny list: {exc}") from None
    log.info("hello_loaded", denied=sorted(mac.hex(":") for mac in denied),
             chain_ignored=list(chain))

    async def control(event: ControlEvent) -> None:
        log.info("hello_control", code=event.code.name)

    async def new_packet(event: NewPacketEvent) -> NewPacketVerdict | None:
        try:
            request = DhcpMessage.parse(event.packet)
        except MalformedPacket:
            return None  # not ours to judge: the server drops it as INVALID
        if request.chaddr[: request.hlen] in denied:
            log.warning("hello_refused", client=str(request.hw_address),
                        relay=str(event.source_address))
            return NewPacketVerdict(process=False)  # no answer; only PROCESSED follows
        return None  # carry on unchanged

    async def address_offer(event: AddressOfferEvent) -> None:
        # Runs with the client's and the address's lease locks held: be quick.
        log.info("hello_lease_granted", address=str(event.address), kind=event.kind.name,
                 client_kind=event.client.name, lease_time=event.lease_time)

    async def packet_drop(event: PacketDropEvent) -> None:
        if event.reason.name != "PROCESSED":
            log.info("hello_packet_dropped", reason=event.reason.name)

    return HookTable(control=control, new_packet=new_packet,
                     address_offer=address_offer, packet_drop=packet_drop)
