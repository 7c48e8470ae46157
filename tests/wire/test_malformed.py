"""Malformed input: parse and every typed getter raise only MalformedPacket subclasses."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dhcpd.wire import (
    MAGIC_COOKIE,
    OPTION_DEFS,
    BadMagicCookie,
    DhcpMessage,
    InvalidOption,
    MalformedPacket,
    RelayAgentInfo,
    TruncatedPacket,
)

from .conftest import FIXTURE_NAMES, load_fixture

FIXTURES = [load_fixture(n) for n in FIXTURE_NAMES]
UDHCPC = FIXTURES[0]


def header(op: int = 1, hlen: int = 6) -> bytearray:
    data = bytearray(236)
    data[0], data[1], data[2] = op, 1, hlen
    return data


def exercise(msg: DhcpMessage) -> None:
    """Call every accessor a server would use; only MalformedPacket may escape."""
    _ = msg.hw_address, msg.broadcast_flag, str(msg.hw_address)
    with contextlib.suppress(MalformedPacket):
        _ = msg.message_type
    for code in list(msg.options):
        definition = OPTION_DEFS.get(code)
        if definition is None:
            continue
        value: Any = None
        with contextlib.suppress(MalformedPacket):
            value = msg.options.get(definition)
        if isinstance(value, RelayAgentInfo):
            for prop in ("circuit_id", "remote_id", "link_selection", "server_id_override"):
                with contextlib.suppress(MalformedPacket):
                    getattr(value, prop)
    assert msg.copy() == msg


@pytest.mark.parametrize("length", [0, 1, 100, 235])
def test_truncated_fixed_header_raises_truncated_packet(length: int) -> None:
    with pytest.raises(TruncatedPacket):
        DhcpMessage.parse(UDHCPC[:length])


def test_bad_magic_cookie_raises_bad_magic_cookie() -> None:
    data = bytearray(UDHCPC)
    data[236:240] = b"\x63\x82\x53\x64"
    with pytest.raises(BadMagicCookie):
        DhcpMessage.parse(bytes(data))
    with pytest.raises(BadMagicCookie):
        DhcpMessage.parse(bytes(header()) + bytes(64))  # BOOTP vend area without cookie


@pytest.mark.parametrize(
    "options",
    [
        b"\x35",  # code with no length octet
        b"\x35\x01",  # value missing
        b"\x35\x01\x01\x0c\x10short",  # length past the end
        b"\x35\x01\x01\x3d\xff" + b"x" * 200,
    ],
)
def test_option_running_past_the_buffer_raises_truncated_packet(options: bytes) -> None:
    with pytest.raises(TruncatedPacket):
        DhcpMessage.parse(bytes(header()) + MAGIC_COOKIE + options)


@pytest.mark.parametrize("op", [0, 3, 255])
def test_op_other_than_request_or_reply_is_malformed(op: int) -> None:
    with pytest.raises(MalformedPacket):
        DhcpMessage.parse(bytes(header(op=op)) + MAGIC_COOKIE + b"\xff")


def test_hlen_over_16_is_malformed() -> None:
    with pytest.raises(MalformedPacket):
        DhcpMessage.parse(bytes(header(hlen=17)) + MAGIC_COOKIE + b"\xff")
    assert DhcpMessage.parse(bytes(header(hlen=16)) + MAGIC_COOKIE + b"\xff").hlen == 16


def test_overload_pointing_to_garbage_raises_truncated_packet() -> None:
    data = header()
    data[108:128] = b"\x0c\x7f" + b"g" * 18  # file: option 12 claims 127 bytes
    with pytest.raises(TruncatedPacket):
        DhcpMessage.parse(bytes(data) + MAGIC_COOKIE + b"\x35\x01\x01\x34\x01\x01\xff")
    data = header()
    data[44:64] = b"\x0c\x7f" + b"g" * 18  # sname likewise
    with pytest.raises(TruncatedPacket):
        DhcpMessage.parse(bytes(data) + MAGIC_COOKIE + b"\x34\x01\x02\xff")


@pytest.mark.parametrize("value", [b"", b"\x00", b"\x04", b"\x01\x01"])
def test_invalid_overload_value_raises_invalid_option_52(value: bytes) -> None:
    opts = b"\x34" + bytes([len(value)]) + value + b"\xff"
    with pytest.raises(InvalidOption) as exc:
        DhcpMessage.parse(bytes(header()) + MAGIC_COOKIE + opts)
    assert exc.value.code == 52


def test_one_bad_option_does_not_prevent_parsing_the_packet() -> None:
    opts = b"\x35\x01\x63\x01\x02\xff\xff\x33\x02\x00\x00\x0c\x03abc\xff"
    msg = DhcpMessage.parse(bytes(header()) + MAGIC_COOKIE + opts)
    with pytest.raises(InvalidOption) as exc:
        _ = msg.message_type
    assert exc.value.code == 53
    with pytest.raises(InvalidOption):
        msg.options.get(OPTION_DEFS[1])
    with pytest.raises(InvalidOption):
        msg.options.get(OPTION_DEFS[51])
    assert msg.options.get(OPTION_DEFS[12]) == "abc"


def test_parse_accepts_bytearray_and_memoryview() -> None:
    assert DhcpMessage.parse(bytearray(UDHCPC)) == DhcpMessage.parse(memoryview(UDHCPC))


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        kind = rng.randrange(5)
        if kind == 0 and buf:  # flip a byte, biased towards the options area
            pos = rng.randrange(200, len(buf)) if len(buf) > 200 else rng.randrange(len(buf))
            buf[pos] = rng.randrange(256)
        elif kind == 1:  # truncate
            del buf[rng.randrange(len(buf) + 1) :]
        elif kind == 2:  # insert random bytes
            pos = rng.randrange(len(buf) + 1)
            buf[pos:pos] = rng.randbytes(rng.randint(1, 12))
        elif kind == 3:  # enable overload into random file/sname garbage
            buf[108:236] = rng.randbytes(128)
            buf[44:108] = rng.randbytes(64)
            buf[240:240] = bytes((52, 1, rng.randint(0, 4)))
        elif len(buf) > 241:  # give a random known option a random value
            code = rng.choice(list(OPTION_DEFS))
            value = rng.randbytes(rng.randint(0, 20))
            buf[240:240] = bytes((code, len(value))) + value
    return bytes(buf)


def test_random_mutations_of_real_captures_raise_only_malformed_packet() -> None:
    rng = random.Random(20240611)
    parsed = 0
    for i in range(20_000):
        data = mutate(rng, FIXTURES[i % len(FIXTURES)])
        try:
            msg = DhcpMessage.parse(data)
        except MalformedPacket:
            continue
        parsed += 1
        exercise(msg)
        DhcpMessage.parse(msg.encode(1500))  # what we parsed, we can re-encode
    assert parsed > 1000  # the fuzzer reaches the typed getters, not just the parser


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=700))
def test_arbitrary_bytes_raise_only_malformed_packet(data: bytes) -> None:
    try:
        msg = DhcpMessage.parse(data)
    except MalformedPacket:
        return
    exercise(msg)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(OPTION_DEFS)), st.binary(max_size=40)), max_size=12
    ),
    st.binary(min_size=128, max_size=128),
    st.binary(min_size=64, max_size=64),
)
def test_arbitrary_option_values_raise_only_malformed_packet(
    options: list[tuple[int, bytes]], file: bytes, sname: bytes
) -> None:
    data = header()
    data[44:108] = sname
    data[108:236] = file
    body = b"".join(bytes((c, len(v))) + v for c, v in options)
    try:
        msg = DhcpMessage.parse(bytes(data) + MAGIC_COOKIE + body + b"\xff")
    except MalformedPacket:
        return
    exercise(msg)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(OPTION_DEFS)), st.binary(max_size=300))
def test_every_decoder_raises_only_invalid_option_with_its_code(code: int, raw: bytes) -> None:
    try:
        value = OPTION_DEFS[code].decode(raw)
    except InvalidOption as exc:
        assert exc.code == code
        return
    # whatever decodes must encode back to something that decodes to the same value
    assert OPTION_DEFS[code].decode(OPTION_DEFS[code].encode(value)) == value
