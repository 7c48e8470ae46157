"""address_int / address_of: the same values as int() and IPv4Address(), without them."""

from __future__ import annotations

import pickle
from ipaddress import IPv4Address, IPv4Network

from dhcpd.wire.addresses import address_bytes, address_int, address_of

EDGES = (0, 1, 0xC0000201, 0xC6336401, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF)


def test_address_of_builds_the_address_ipaddress_would() -> None:
    for value in EDGES:
        built = address_of(value)
        reference = IPv4Address(value)
        assert type(built) is IPv4Address
        assert built == reference and hash(built) == hash(reference)
        assert str(built) == str(reference) and built.packed == reference.packed
        assert pickle.loads(pickle.dumps(built)) == reference


def test_address_int_is_int() -> None:
    for value in EDGES:
        assert address_int(IPv4Address(value)) == int(IPv4Address(value)) == value


def test_address_bytes_is_packed() -> None:
    for value in EDGES:
        assert address_bytes(IPv4Address(value)) == IPv4Address(value).packed


def test_built_addresses_behave_in_networks_and_ordering() -> None:
    network = IPv4Network("192.0.2.0/24")
    assert address_of(0xC0000201) in network
    assert address_of(0xC0000301) not in network
    assert address_of(1) < IPv4Address(2) and sorted([address_of(3), address_of(2)]) == [
        IPv4Address(2), IPv4Address(3)]
