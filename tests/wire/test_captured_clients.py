"""DHCPDISCOVERs captured from real clients (see fixtures/README.md)."""

from __future__ import annotations

from ipaddress import IPv4Address

from dhcpd.wire import (
    BOOTREQUEST,
    CLIENT_FQDN,
    CLIENT_ID,
    FQDN_FLAG_S,
    HOST_NAME,
    MAX_MESSAGE_SIZE,
    PARAMETER_REQUEST_LIST,
    VENDOR_CLASS_ID,
    ClientFqdn,
    DhcpMessage,
    MessageType,
)

from .conftest import load_fixture

MAC = "02:00:00:aa:00:01"


def test_every_capture_is_a_discover_from_the_mac_we_set(captured_discover: bytes) -> None:
    msg = DhcpMessage.parse(captured_discover)
    assert msg.op == BOOTREQUEST
    assert msg.message_type is MessageType.DISCOVER
    assert str(msg.hw_address) == MAC
    assert msg.htype == 1 and msg.hlen == 6
    assert msg.ciaddr == msg.yiaddr == msg.giaddr == IPv4Address(0)
    prl = msg.options.get(PARAMETER_REQUEST_LIST)
    assert prl is not None and 1 in prl and 3 in prl


def test_parse_encode_parse_is_stable_and_byte_exact(captured_discover: bytes) -> None:
    first = DhcpMessage.parse(captured_discover)
    encoded = first.encode()
    assert DhcpMessage.parse(encoded) == first
    # both clients emit 53 first, END, then zero padding: our encoder reproduces them
    assert encoded == captured_discover


def test_udhcpc_discover_fields() -> None:
    msg = DhcpMessage.parse(load_fixture("udhcpc_discover"))
    assert msg.options.get(CLIENT_ID) == b"\x01\x02\x00\x00\xaa\x00\x01"  # htype 1 + MAC
    assert msg.options.get(MAX_MESSAGE_SIZE) == 576
    assert msg.options.get(VENDOR_CLASS_ID) == b"udhcp 1.35.0"
    assert msg.options.get(PARAMETER_REQUEST_LIST) == (1, 3, 6, 12, 15, 28, 42)
    assert msg.options.get(HOST_NAME) is None
    assert len(load_fixture("udhcpc_discover")) == 300


def test_udhcpc_discover_with_hostname_and_fqdn() -> None:
    msg = DhcpMessage.parse(load_fixture("udhcpc_discover_hostname_fqdn"))
    assert msg.options.get(HOST_NAME) == "wcap-host"
    assert msg.options.get(VENDOR_CLASS_ID) == b"wcap-vendor"
    # busybox sends the deprecated ASCII form (E flag clear) with the S flag set
    assert msg.options.get(CLIENT_FQDN) == ClientFqdn(
        FQDN_FLAG_S, 0, 0, "wcap-host.example.org"
    )


def test_dhclient_discover_fields() -> None:
    msg = DhcpMessage.parse(load_fixture("dhclient_discover"))
    assert list(msg.options) == [53, 55]
    assert msg.options.get(PARAMETER_REQUEST_LIST) == (1, 28, 2, 3, 15, 6, 12)
    assert msg.options.get(CLIENT_ID) is None
    assert not msg.broadcast_flag
