"""The packet hooks' events: built fast (dhcpd/records.py), and frozen events all the same."""

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
    OfferKind,
    PacketDropEvent,
    PacketSendEvent,
    ServerOptions,
)
from dhcpd.hooks.calling import SKIPPED
from dhcpd.hooks.session import NO_PACKET_HOOKS
from dhcpd.wire import MessageType
from tests.factories import request

A = IPv4Address("192.0.2.1")
B = IPv4Address("192.0.2.9")
OPTIONS = ServerOptions(request(MessageType.DISCOVER, 1).encode())

CASES = [
    (NewPacketEvent, (b"p", A, "eth0", B, 68)),
    (PacketDropEvent, (b"p", DropReason.PROCESSED, A, ("mine", 1))),
    (PacketSendEvent, (b"r", b"p", B, 68, A, None)),
    (AddressDelEvent, (b"p", AddressDelReason.RELEASE, B, A, None)),
    (AddressOfferEvent, (b"p", OfferKind.NEW, ClientKind.DHCP, B, 3600, A, None)),
    (HandleOptionsEvent, (b"p", OPTIONS, A, None)),
]


@pytest.mark.parametrize(("cls", "values"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_events_built_positionally_are_the_same_frozen_events(
    cls: type, values: tuple[object, ...]
) -> None:
    event = cls(*values)
    same = cls(**dict(zip([f.name for f in dataclasses.fields(cls)], values, strict=True)))
    assert type(event) is cls and event == same and hash(event) == hash(same)
    assert repr(event) == repr(same)
    assert dataclasses.astuple(event) == values
    assert dataclasses.replace(event) == same
    assert pickle.loads(pickle.dumps(event)) == same
    first = dataclasses.fields(event)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, first, b"changed")


def test_without_callouts_the_pipeline_hooks_are_skipped() -> None:
    assert NO_PACKET_HOOKS.packet_drop(DropReason.PROCESSED) is SKIPPED
    assert NO_PACKET_HOOKS.handle_options() is SKIPPED
