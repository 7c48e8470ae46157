from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from dhcpd.wire import (
    BOOTP_MIN_PACKET,
    BOOTREPLY,
    BOOTREQUEST,
    DOMAIN_NAME,
    FLAG_BROADCAST,
    LEASE_TIME,
    MAGIC_COOKIE,
    MESSAGE_TYPE,
    ROUTER,
    SERVER_ID,
    SUBNET_MASK,
    VENDOR_SPECIFIC,
    DhcpMessage,
    HardwareAddress,
    MessageType,
    Options,
)

A = IPv4Address
CHADDR = bytes.fromhex("020000aa0001") + bytes(10)


def make_reply(mtype: MessageType = MessageType.ACK) -> DhcpMessage:
    msg = DhcpMessage(
        op=BOOTREPLY, xid=0x12345678, secs=3, flags=FLAG_BROADCAST, ciaddr=A("0.0.0.0"),
        yiaddr=A("192.0.2.10"), siaddr=A("192.0.2.1"), giaddr=A("198.51.100.1"), chaddr=CHADDR,
    )  # fmt: skip
    msg.options.set(LEASE_TIME, 3600)
    msg.options.set(SUBNET_MASK, A("255.255.255.0"))
    msg.options.set(SERVER_ID, A("192.0.2.1"))
    msg.options.set(MESSAGE_TYPE, mtype)
    msg.options.set(ROUTER, (A("192.0.2.1"),))
    return msg


def option_codes_in_order(payload: bytes, start: int = 240) -> list[int]:
    codes = []
    i = start
    while i < len(payload) and payload[i] != 255:
        if payload[i] == 0:
            i += 1
            continue
        codes.append(payload[i])
        i += 2 + payload[i + 1]
    return codes


def test_message_round_trips_every_header_field() -> None:
    msg = make_reply()
    msg.hops = 2
    msg.sname = b"server".ljust(64, b"\x00")
    msg.file = b"pxelinux.0".ljust(128, b"\x00")
    back = DhcpMessage.parse(msg.encode())
    assert back == msg
    assert back.op == BOOTREPLY and back.xid == 0x12345678 and back.secs == 3
    assert back.yiaddr == A("192.0.2.10") and back.giaddr == A("198.51.100.1")
    assert back.broadcast_flag
    assert back.hw_address == HardwareAddress(1, bytes.fromhex("020000aa0001"))
    assert back.message_type is MessageType.ACK


def test_encode_puts_53_then_54_first_and_end_last() -> None:
    payload = make_reply().encode()
    assert payload[236:240] == MAGIC_COOKIE
    assert option_codes_in_order(payload) == [53, 54, 51, 1, 3]
    assert payload[240:243] == b"\x35\x01\x05"


def test_short_reply_is_padded_to_bootp_minimum_of_300_bytes() -> None:
    msg = DhcpMessage(op=BOOTREPLY)
    msg.options.set(MESSAGE_TYPE, MessageType.NAK)
    payload = msg.encode()
    assert len(payload) == BOOTP_MIN_PACKET
    assert payload[240:244] == b"\x35\x01\x06\xff"
    assert payload[244:] == bytes(BOOTP_MIN_PACKET - 244)


def test_option_longer_than_255_is_split_and_rejoined() -> None:
    msg = make_reply()
    big = bytes(range(256)) * 2 + b"tail"  # 516 bytes -> 255 + 255 + 6
    msg.options.set(VENDOR_SPECIFIC, big)
    payload = msg.encode(1500)
    assert option_codes_in_order(payload).count(43) == 3
    back = DhcpMessage.parse(payload)
    assert back.options.get(VENDOR_SPECIFIC) == big


def test_repeated_option_instances_are_concatenated_on_parse_rfc3396() -> None:
    base = DhcpMessage(op=BOOTREQUEST).encode()[:240]
    payload = base + b"\x35\x01\x01\x0c\x02ab\x03\x04\xc0\x00\x02\x01\x0c\x03cde\xff"
    msg = DhcpMessage.parse(payload)
    assert msg.options.get_raw(12) == b"abcde"
    assert list(msg.options) == [53, 12, 3]


def test_parse_of_overload_reads_options_field_then_file_then_sname() -> None:
    header = bytearray(DhcpMessage(op=BOOTREQUEST).encode()[:236])
    # sname (offset 44) and file (offset 108) carry options; 12 is split across all three
    header[44:44 + 6] = b"\x0c\x02gh\xff\x00"  # fmt: skip
    header[108:108 + 9] = b"\x0c\x02ef\x0f\x02ab\xff"  # fmt: skip
    payload = bytes(header) + MAGIC_COOKIE + b"\x35\x01\x01\x34\x01\x03\x0c\x04abcd\xff"
    msg = DhcpMessage.parse(payload)
    assert msg.options.get_raw(12) == b"abcdefgh"
    assert msg.options.get(DOMAIN_NAME) == "ab"
    assert 52 not in msg.options
    assert msg.overload == 3  # what the client sent, for the callouts
    assert msg.sname == bytes(64) and msg.file == bytes(128)


def test_parse_of_overload_file_only_keeps_sname() -> None:
    header = bytearray(DhcpMessage(op=BOOTREQUEST).encode()[:236])
    header[44:50] = b"server"
    header[108:112] = b"\x0f\x01x\xff"
    payload = bytes(header) + MAGIC_COOKIE + b"\x34\x01\x01\xff"
    msg = DhcpMessage.parse(payload)
    assert msg.options.get(DOMAIN_NAME) == "x"
    assert msg.sname.rstrip(b"\x00") == b"server"


def big_reply() -> DhcpMessage:
    msg = make_reply()
    # each 100-byte option: 102 bytes on the wire
    for code in range(224, 231):
        msg.options.set_raw(code, bytes([code]) * 100)
    return msg


def test_reply_too_big_for_576_uses_overload_into_file_and_sname() -> None:
    msg = make_reply()
    for code in range(224, 227):
        msg.options.set_raw(code, bytes([code]) * 100)
    msg.options.set_raw(227, b"\x01" * 50)
    payload, omitted = msg.encode_with_report(576)
    assert omitted == ()
    assert len(payload) <= 576 - 28
    assert 52 in option_codes_in_order(payload)
    back = DhcpMessage.parse(payload)
    assert back == msg  # every option recovered, sname/file zero again
    assert list(back.options) == [53, 54, 51, 1, 3, 224, 225, 226, 227]


def test_overload_is_used_in_both_directions_parse_of_encode_and_encode_of_parse() -> None:
    msg = big_reply()
    payload, omitted = msg.encode_with_report(1500)
    assert omitted == () and 52 not in option_codes_in_order(payload)  # fits without overload
    small, omitted = msg.encode_with_report(576)
    parsed = DhcpMessage.parse(small)
    # re-encoding the parsed message with the same budget gives the same bytes
    assert parsed.encode(576) == small
    for code in omitted:
        msg.options.delete(code)
    assert parsed == msg


def test_reply_too_big_even_with_overload_omits_trailing_options_but_never_protected() -> None:
    msg = big_reply()
    msg.options.set_raw(82, b"\x01\x04eth0")  # echoed relay info must survive
    payload, omitted = msg.encode_with_report(576)
    assert len(payload) <= 548
    assert omitted  # something had to go
    assert not {53, 54, 51, 1, 82} & set(omitted)
    back = DhcpMessage.parse(payload)
    for code in (53, 54, 51, 1, 82):
        assert back.options.get_raw(code) == msg.options.get_raw(code)
    for code in omitted:
        assert code not in back.options
    assert set(back.options) | set(omitted) == set(msg.options)
    # omission drops from the end of the order: what was kept is an order prefix
    unprotected = [c for c in msg.options if c not in {53, 54, 51, 1, 82}]
    kept = [c for c in unprotected if c not in omitted]
    assert kept == unprotected[: len(kept)]
    assert msg.encode(576) == payload


def test_larger_max_size_fits_everything_without_overload() -> None:
    msg = big_reply()
    payload, omitted = msg.encode_with_report(1500)
    assert omitted == ()
    assert len(payload) <= 1500 - 28
    assert DhcpMessage.parse(payload) == msg


def test_overload_is_not_used_when_file_and_sname_are_in_use() -> None:
    msg = big_reply()
    msg.file = b"pxelinux.0".ljust(128, b"\x00")
    msg.sname = b"tftp".ljust(64, b"\x00")
    payload, omitted = msg.encode_with_report(576)
    assert omitted
    assert 52 not in option_codes_in_order(payload)
    back = DhcpMessage.parse(payload)
    assert back.file == msg.file and back.sname == msg.sname


def test_overload_uses_sname_only_when_file_is_in_use() -> None:
    msg = make_reply()
    msg.file = b"pxelinux.0".ljust(128, b"\x00")
    for code in range(224, 226):
        msg.options.set_raw(code, bytes([code]) * 100)
    msg.options.set_raw(226, b"\x01" * 55)
    msg.options.set_raw(227, b"\x02" * 50)  # no longer fits the options field
    payload, omitted = msg.encode_with_report(576)
    assert omitted == ()
    assert payload[240:].find(b"\x34\x01\x02") >= 0  # RFC 2132 9.3: value 2 = sname
    assert payload[44:46] == b"\xe3\x32"  # option 227 sits in sname
    back = DhcpMessage.parse(payload)
    assert back.file == msg.file
    assert back == msg


def test_protected_options_that_cannot_fit_raise_value_error() -> None:
    msg = make_reply()
    msg.options.set_raw(82, b"\x01" * 2000)
    with pytest.raises(ValueError):
        msg.encode(576)


def test_max_size_below_a_bootp_packet_is_rejected() -> None:
    with pytest.raises(ValueError):
        make_reply().encode(300)


def test_option_52_set_by_a_caller_is_ignored_by_the_encoder() -> None:
    msg = make_reply()
    msg.options.set_raw(52, b"\x03")
    assert 52 not in option_codes_in_order(msg.encode())


def test_bootp_packet_without_vendor_area_parses_with_no_options() -> None:
    payload = DhcpMessage(op=BOOTREQUEST, chaddr=CHADDR).encode()[:236]
    for extra in (b"", b"\x63\x82\x53"):
        msg = DhcpMessage.parse(payload + extra)
        assert len(msg.options) == 0
        assert msg.message_type is None
        assert str(msg.hw_address) == "02:00:00:aa:00:01"


def test_missing_end_option_is_tolerated() -> None:
    payload = DhcpMessage(op=BOOTREQUEST).encode()[:240] + b"\x35\x01\x03\x0c\x01x"
    msg = DhcpMessage.parse(payload)
    assert msg.message_type is MessageType.REQUEST
    assert msg.options.get_raw(12) == b"x"


def test_data_after_end_is_ignored() -> None:
    payload = DhcpMessage(op=BOOTREQUEST).encode()[:240] + b"\x35\x01\x01\xff\x0c\xffjunk"
    assert list(DhcpMessage.parse(payload).options) == [53]


def test_copy_does_not_share_options() -> None:
    msg = make_reply()
    clone = msg.copy()
    clone.options.set(MESSAGE_TYPE, MessageType.NAK)
    clone.yiaddr = A("0.0.0.0")
    assert msg.message_type is MessageType.ACK
    assert msg.yiaddr == A("192.0.2.10")
    assert clone.message_type is MessageType.NAK


def test_short_chaddr_sname_file_are_zero_padded_and_long_ones_rejected() -> None:
    msg = DhcpMessage(chaddr=b"\x02\x00\x00\xaa\x00\x01", sname=b"s", file=b"f", options=Options())
    back = DhcpMessage.parse(msg.encode())
    assert back.chaddr == CHADDR and back.sname == b"s" + bytes(63)
    with pytest.raises(ValueError):
        DhcpMessage(chaddr=bytes(17)).encode()
    with pytest.raises(ValueError):
        DhcpMessage(file=bytes(129)).encode()
