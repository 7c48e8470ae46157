"""The ICMP echo prober of conflict detection: wire format, loopback, no socket at all."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from ipaddress import IPv4Address
from typing import Any

import pytest

from dhcpd.transport.checksum import internet_checksum as checksum
from dhcpd.transport.icmp import IcmpProber, echo_request, parse_echo_reply


def test_checksum_is_the_rfc_1071_example() -> None:
    # RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2, its complement is 220d.
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert checksum(b"\x01") == ~0x0100 & 0xFFFF  # odd length: padded with a zero


def test_echo_request_is_rfc_792_with_a_valid_checksum() -> None:
    packet = echo_request(0x1234, 7, b"abc")
    kind, code, _, identifier, sequence = struct.unpack_from("!BBHHH", packet)
    assert (kind, code, identifier, sequence) == (8, 0, 0x1234, 7)
    assert packet[8:] == b"abc"
    assert checksum(packet) == 0  # a correct checksum sums to zero


def test_echo_reply_is_parsed_with_and_without_ip_header() -> None:
    reply = bytearray(echo_request(0xBEEF, 42))
    reply[0] = 0  # type 0: echo reply
    ip_header = bytes([0x46]) + bytes(23)  # IHL 6: 24 bytes of header with options
    assert parse_echo_reply(bytes(reply), has_ip_header=False) == (0xBEEF, 42)
    assert parse_echo_reply(ip_header + bytes(reply), has_ip_header=True) == (0xBEEF, 42)
    assert parse_echo_reply(echo_request(1, 2), has_ip_header=False) is None  # a request
    assert parse_echo_reply(b"\x00\x00", has_ip_header=False) is None
    assert parse_echo_reply(bytes(reply), has_ip_header=True) is None  # not IPv4


def _prober_or_skip() -> IcmpProber:
    prober = IcmpProber()
    if not prober.open():
        pytest.skip("no ICMP socket here (needs CAP_NET_RAW or net.ipv4.ping_group_range)")
    return prober


async def test_probing_loopback_is_answered() -> None:
    prober = _prober_or_skip()
    try:
        assert await prober.probe(IPv4Address("127.0.0.1"), 1, 1.0)
        # Several probes at once share the one socket and are told apart.
        answers = await asyncio.gather(*(
            prober.probe(IPv4Address(f"127.0.0.{n}"), 2, 1.0) for n in range(1, 6)))
        assert answers == [True] * 5
    finally:
        prober.close()
    assert prober.mode == "closed"
    assert not await prober.probe(IPv4Address("127.0.0.1"), 1, 1.0)  # closed for good


async def test_probe_with_zero_attempts_sends_nothing() -> None:
    prober = IcmpProber()
    assert not await prober.probe(IPv4Address("127.0.0.1"), 0, 1.0)
    assert prober.mode == "idle"  # not even opened


async def test_without_any_icmp_socket_every_probe_is_free_and_logged_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    def refused(*args: Any, **kw: Any) -> socket.socket:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(socket, "socket", refused)
    prober = IcmpProber()
    started = time.monotonic()
    assert not await prober.probe(IPv4Address("127.0.0.1"), 3, 1.0)
    assert not await prober.probe(IPv4Address("127.0.0.2"), 3, 1.0)
    assert time.monotonic() - started < 0.5  # no waiting for answers that cannot come
    assert prober.mode == "unavailable"
    output = capsys.readouterr()
    assert (output.out + output.err).count("conflict_detection_unavailable") == 1
    prober.close()
