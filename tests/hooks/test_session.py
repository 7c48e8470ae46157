"""The packet hooks' events: built fast, and the same frozen events all the same."""

from __future__ import annotations

import dataclasses
import pickle
from ipaddress import IPv4Address

import pytest

from dhcpd.hooks import (
    AddressDelEvent,
    AddressDelReason,
    AddressOfferEvent,
    ClientKind,
    DropReason,
    HandleOptionsEvent,
    NewPacketEvent,
    NewPacketVerdict,
    OfferKind,
    PacketDropEvent,
    PacketSendEvent,
)
from dhcpd.hooks.dispatcher import SKIPPED
from dhcpd.hooks.session import (
    NO_PACKET_HOOKS,
    address_del_event,
    address_offer_event,
    fast_constructor,
    handle_options_event,
    new_packet_event,
    packet_drop_event,
    packet_send_event,
    server_options,
)
from dhcpd.wire import MessageType
from tests.factories import request

A = IPv4Address("192.0.2.1")
B = IPv4Address("192.0.2.9")
OPTIONS = server_options(request(MessageType.DISCOVER, 1))

CASES = [
    (new_packet_event, NewPacketEvent, (b"p", A, "eth0", B, 68)),
    (packet_drop_event, PacketDropEvent, (b"p", DropReason.PROCESSED, A, ("mine", 1))),
    (packet_send_event, PacketSendEvent, (b"r", b"p", B, 68, A, None)),
    (address_del_event, AddressDelEvent, (b"p", AddressDelReason.RELEASE, B, A, None)),
    (address_offer_event, AddressOfferEvent,
     (b"p", OfferKind.NEW, ClientKind.DHCP, B, 3600, A, None)),
    (handle_options_event, HandleOptionsEvent, (b"p", OPTIONS, A, None)),
]


@pytest.mark.parametrize(("make", "cls", "values"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_fast_constructors_build_the_same_frozen_events(
    make: object, cls: type, values: tuple[object, ...]
) -> None:
    assert callable(make)
    event = make(*values)
    same = cls(*values)
    assert type(event) is cls and event == same and hash(event) == hash(same)
    assert repr(event) == repr(same)
    assert dataclasses.astuple(event) == values
    assert dataclasses.replace(event) == same
    assert pickle.loads(pickle.dumps(event)) == same
    first = dataclasses.fields(event)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, first, b"changed")


def test_fast_constructor_takes_only_plain_slotted_frozen_dataclasses() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    for cls in (NoSlots, NotFrozen):
        with pytest.raises(TypeError):
            fast_constructor(cls)
    assert fast_constructor(NewPacketVerdict)(b"p", None, False) == NewPacketVerdict(
        b"p", None, False)


def test_without_callouts_the_pipeline_hooks_are_skipped() -> None:
    assert NO_PACKET_HOOKS.packet_drop(DropReason.PROCESSED) is SKIPPED
    assert NO_PACKET_HOOKS.handle_options(request(MessageType.DISCOVER, 1)) is SKIPPED
