"""The hooks of one packet's journey through the server.

The app makes one PacketHooks per received datagram (after new_packet) and
the protocol calls it at the documented points; it carries the request bytes,
the interface address and the callout's packet context, so callers only say
what happened. With no callout loaded, NO_PACKET_HOOKS does nothing, fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address
from typing import Any, TypeVar

from dhcpd.wire import (
    DhcpMessage,
)

from .api import (
    AddressDelEvent,
    AddressDelReason,
    AddressOfferEvent,
    ClientKind,
    DropReason,
    HandleOptionsEvent,
    NewPacketEvent,
    OfferKind,
    PacketDropEvent,
    PacketSendEvent,
    ServerOptions,
)
from .dispatcher import NO_CALLOUTS, SKIPPED, Dispatcher, HookOutcome

ZERO = IPv4Address(0)
E = TypeVar("E")


def fast_constructor(cls: type[E]) -> Callable[..., E]:
    """A constructor for the frozen, slotted event dataclass `cls`, every field
    positional in declaration order (defaults too), for the packet path: no checks.

    A frozen dataclass's __init__ sets each field through object.__setattr__
    (a generic attribute lookup and a wrapper call per field). This builds the
    object as an instance of a private twin class with the same slots, where
    each field is a plain attribute store, then gives it its real class (the
    layouts are the same, so Python allows it): the result is a `cls` like any
    other, as frozen as any other, in about half the time of `cls(...)`.
    """
    fields = tuple(field.name for field in dataclasses.fields(cls))  # type: ignore[arg-type]
    params = getattr(cls, "__dataclass_params__", None)
    if (params is None or not params.frozen or cls.__bases__ != (object,)
            or vars(cls).get("__slots__") != fields
            or hasattr(cls, "__post_init__") or {"event", "_new", "_twin", "_cls"} & set(fields)):
        raise TypeError(f"{cls.__name__}: not a plain frozen dataclass with slots")
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": fields})
    body = "".join(f"    event.{name} = {name}\n" for name in fields)
    namespace: dict[str, Any] = {"_new": object.__new__, "_twin": twin, "_cls": cls}
    exec(  # from the dataclass's own field names, as dataclasses (and dhcpd/records.py) do
        f"def make({', '.join(fields)}):\n    event = _new(_twin)\n{body}"
        "    event.__class__ = _cls\n    return event\n",
        namespace,
    )
    make: Callable[..., E] = namespace["make"]
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    if type(make(*fields)) is not cls:  # the layouts match (or TypeError here, at import)
        raise TypeError(f"{cls.__name__}: cannot be built from its twin")
    return make


new_packet_event = fast_constructor(NewPacketEvent)
packet_drop_event = fast_constructor(PacketDropEvent)
packet_send_event = fast_constructor(PacketSendEvent)
address_del_event = fast_constructor(AddressDelEvent)
address_offer_event = fast_constructor(AddressOfferEvent)
handle_options_event = fast_constructor(HandleOptionsEvent)


class PacketHooks:
    __slots__ = ("callers", "context", "dispatcher", "interface_address", "packet")

    def __init__(
        self,
        dispatcher: Dispatcher,
        packet: bytes,
        interface_address: IPv4Address,
        context: Any = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.callers = dispatcher.callers  # a slot is there while it may be called
        self.packet = packet
        self.interface_address = interface_address
        self.context = context

    async def address_offer(
        self, address: IPv4Address, renewal: bool, bootp: bool, lease_time: int
    ) -> bool:
        """DhcpAddressOfferHook, directly before the ACK; False: drop the reply."""
        call = self.callers.get("address_offer")
        if call is None:
            return True
        outcome = call(address_offer_event(
            self.packet,
            OfferKind.OLD if renewal else OfferKind.NEW,
            ClientKind.BOOTP if bootp else ClientKind.DHCP,
            address,
            lease_time,
            self.interface_address,
            self.context,
        ))
        if not isinstance(outcome, HookOutcome):  # the hook waits
            outcome = await outcome
        return not outcome.drop

    async def address_del(self, reason: AddressDelReason, address: IPv4Address) -> bool:
        """DhcpAddressDelHook; False: a timeout whose policy drops the packet."""
        call = self.callers.get("address_del")
        if call is None:
            return True
        outcome = call(address_del_event(
            self.packet, reason, address, self.interface_address, self.context,
        ))
        if not isinstance(outcome, HookOutcome):
            outcome = await outcome
        return not outcome.drop

    # The pipeline's own two hooks are plain methods: each returns the call's
    # outcome when the hook finished at once, else an awaitable of it (await it).

    def packet_drop(self, reason: DropReason) -> HookOutcome | Awaitable[HookOutcome]:
        """DhcpPktDropHook."""
        call = self.callers.get("packet_drop")
        if call is None:
            return SKIPPED
        return call(packet_drop_event(self.packet, reason, self.interface_address, self.context))

    def handle_options(self, request: DhcpMessage) -> HookOutcome | Awaitable[HookOutcome]:
        """DhcpHandleOptionsHook with the server's parse; `drop`: drop the packet."""
        call = self.callers.get("handle_options")
        if call is None:
            return SKIPPED
        return call(handle_options_event(
            self.packet, ServerOptions(request.options), self.interface_address, self.context,
        ))


NO_PACKET_HOOKS = PacketHooks(NO_CALLOUTS, b"", ZERO)


def server_options(request: DhcpMessage) -> ServerOptions:
    """The fields of Microsoft's DHCP_SERVER_OPTIONS, decoded when a hook reads them."""
    return ServerOptions(request.options)
