"""ServerOptions: Microsoft's DHCP_SERVER_OPTIONS as a read-only, lazily decoded view."""

from __future__ import annotations

import pickle
from ipaddress import IPv4Address

import pytest

from dhcpd.hooks import ServerOptions
from dhcpd.wire import DhcpMessage, MessageType
from tests.factories import SERVER_ADDRESS, request


def packet(**kw: object) -> bytes:
    return request(MessageType.REQUEST, 1, **kw).encode()  # type: ignore[arg-type]


def test_fields_are_the_requests_options() -> None:
    options = ServerOptions(packet(
        requested=IPv4Address("192.0.2.5"), server_id=SERVER_ADDRESS,
        client_id=b"\x01\x02\x00\x00\x00\x00\x01",
        extra=((12, b"host1"), (60, b"vendor"), (77, b"class"))))
    assert options.message_type == MessageType.REQUEST
    assert options.requested_address == IPv4Address("192.0.2.5")
    assert options.server_identifier == SERVER_ADDRESS
    assert options.parameter_request_list == (1, 3, 6, 15)
    assert (options.client_id_type, options.client_id) == (1, bytes.fromhex("020000000001"))
    assert (options.host_name, options.vendor_class, options.user_class) == (
        "host1", b"vendor", b"class")
    assert options.subnet_mask is None and options.routers is None
    assert options.overload is None and options.ds_domain_name is None


def test_a_malformed_option_reads_as_absent() -> None:
    options = ServerOptions(packet(extra=((50, b"\x01\x02"),)))  # 2-byte address
    assert options.requested_address is None
    assert options.message_type == MessageType.REQUEST


def test_it_is_read_only_and_detached_from_the_request() -> None:
    data = bytearray(packet(requested=IPv4Address("192.0.2.5")))
    message = DhcpMessage.parse(bytes(data))  # the server's own parse
    options = ServerOptions(data)
    with pytest.raises(AttributeError):
        options.requested_address = IPv4Address("203.0.113.1")  # type: ignore[misc]
    message.options.set_raw(50, IPv4Address("203.0.113.9").packed)
    data[-8:] = bytes(8)  # the buffer it was made from, overwritten
    assert options.requested_address == IPv4Address("192.0.2.5")


def test_bytes_that_do_not_parse_read_as_no_options() -> None:
    options = ServerOptions(b"\x01\x01 too short")
    assert options.message_type is None and options.requested_address is None
    assert options.overload is None


def test_it_pickles_for_the_isolation_worker() -> None:
    options = ServerOptions(packet(requested=IPv4Address("192.0.2.5")))
    copy = pickle.loads(pickle.dumps(options))
    assert isinstance(copy, ServerOptions) and copy == options
    assert copy.requested_address == IPv4Address("192.0.2.5")


def test_overload_is_option_52_as_the_client_sent_it() -> None:
    """The codec folds the options carried in file/sname into the rest; the
    hook still learns that the client used option 52, and which fields."""
    from dhcpd.wire import BOOTREQUEST, MAGIC_COOKIE

    header = bytearray(DhcpMessage(op=BOOTREQUEST).encode()[:236])
    header[108:108 + 10] = b"\x0c\x07host-ov\xff"  # host name (12) in the file field
    payload = bytes(header) + MAGIC_COOKIE + b"\x35\x01\x03\x34\x01\x01\xff"
    options = ServerOptions(payload)
    assert options.overload == 1  # file carried options
    assert options.host_name == "host-ov"
    copy = pickle.loads(pickle.dumps(options))
    assert copy.overload == 1 and copy == options
