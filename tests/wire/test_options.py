from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest

from dhcpd.wire import (
    CLASSLESS_STATIC_ROUTE,
    CLIENT_FQDN,
    CLIENT_ID,
    DOMAIN_SEARCH,
    FQDN_FLAG_E,
    FQDN_FLAG_S,
    INFINITE_LEASE,
    LEASE_TIME,
    MAX_MESSAGE_SIZE,
    MESSAGE_TYPE,
    OPTION_DEFS,
    OPTION_DEFS_BY_NAME,
    PARAMETER_REQUEST_LIST,
    RAPID_COMMIT,
    RELAY_AGENT_INFO,
    ROUTER,
    SUBNET_MASK,
    TIME_OFFSET,
    ClientFqdn,
    HardwareAddress,
    InvalidOption,
    MessageType,
    OptionCode,
    OptionDef,
    Options,
    RelayAgentInfo,
)
from dhcpd.wire import options as o

A = IPv4Address

# one representative value per known option
SAMPLES: dict[int, Any] = {
    1: A("255.255.255.0"),
    2: -3600,
    3: (A("192.0.2.1"), A("192.0.2.2")),
    6: (A("192.0.2.53"),),
    12: "host-1",
    15: "example.org",
    26: 1500,
    28: A("192.0.2.255"),
    42: (A("192.0.2.123"),),
    43: b"\x01\x04abcd",
    44: (A("192.0.2.44"),),
    50: A("192.0.2.10"),
    51: INFINITE_LEASE,
    52: 3,
    53: MessageType.REQUEST,
    54: A("192.0.2.1"),
    55: (1, 3, 6, 15, 119, 121),
    56: "no free leases",
    57: 1500,
    58: 1800,
    59: 3150,
    60: b"MSFT 5.0",
    61: b"\x01\x02\x00\x00\xaa\x00\x01",
    66: "tftp.example.org",
    67: "pxelinux.0",
    77: b"\x04iPXE",
    80: True,
    81: ClientFqdn(FQDN_FLAG_E | FQDN_FLAG_S, 0, 0, "host.example.org."),
    82: RelayAgentInfo(((1, b"eth0/1"), (2, b"\x00\x11"), (5, bytes([192, 0, 2, 0])))),
    118: A("192.0.2.0"),
    119: ("eng.example.org", "example.org", "example.com", "a.eng.example.org"),
    121: (
        (IPv4Network("0.0.0.0/0"), A("192.0.2.1")),
        (IPv4Network("10.0.0.0/8"), A("192.0.2.2")),
        (IPv4Network("10.17.0.0/16"), A("192.0.2.3")),
        (IPv4Network("192.168.1.128/25"), A("192.0.2.4")),
        (IPv4Network("203.0.113.7/32"), A("192.0.2.5")),
    ),
}


def test_every_known_option_has_a_sample_and_a_consistent_registry() -> None:
    assert set(SAMPLES) == set(OPTION_DEFS)
    for code, definition in OPTION_DEFS.items():
        assert definition.code == code
        assert OPTION_DEFS_BY_NAME[definition.name] is definition
        assert definition.name == OptionCode(code).name.lower()
    assert OPTION_DEFS_BY_NAME["domain_name_server"] is o.DOMAIN_NAME_SERVER


@pytest.mark.parametrize("code", sorted(SAMPLES))
def test_every_typed_option_round_trips_through_bytes(code: int) -> None:
    definition: OptionDef[Any] = OPTION_DEFS[code]
    value = SAMPLES[code]
    wire = definition.encode(value)
    assert definition.decode(wire) == value
    opts = Options()
    opts.set(definition, value)
    assert opts.get(definition) == value
    assert opts.get_raw(code) == wire


def test_wire_forms_match_the_rfcs() -> None:
    assert SUBNET_MASK.encode(A("255.255.255.0")) == b"\xff\xff\xff\x00"
    assert TIME_OFFSET.encode(-1) == b"\xff\xff\xff\xff"
    assert LEASE_TIME.encode(INFINITE_LEASE) == b"\xff\xff\xff\xff"
    assert MESSAGE_TYPE.encode(MessageType.ACK) == b"\x05"
    assert RAPID_COMMIT.encode(True) == b""
    # RFC 3442 section 3 examples: 0/0 -> 1 octet, 10/8 -> 2, 10.17/16 -> 3 descriptor octets
    assert CLASSLESS_STATIC_ROUTE.encode(
        ((IPv4Network("10.17.0.0/16"), A("10.0.0.1")),)
    ) == bytes([16, 10, 17, 10, 0, 0, 1])
    assert CLASSLESS_STATIC_ROUTE.encode(
        ((IPv4Network("0.0.0.0/0"), A("10.0.0.1")),)
    ) == bytes([0, 10, 0, 0, 1])
    # RFC 4702 section 2.1: canonical wire format, root label for a fully qualified name
    assert CLIENT_FQDN.encode(ClientFqdn(FQDN_FLAG_E, 0, 0, "a.bc.")) == (
        b"\x04\x00\x00\x01a\x02bc\x00"
    )
    assert CLIENT_FQDN.encode(ClientFqdn(FQDN_FLAG_E, 0, 0, "a.bc")) == (
        b"\x04\x00\x00\x01a\x02bc"
    )


def test_domain_search_uses_compression_pointers_like_rfc_3397_example() -> None:
    # RFC 3397 section 3: "eng.apple.com." and "marketing.apple.com."
    wire = DOMAIN_SEARCH.encode(("eng.apple.com", "marketing.apple.com"))
    assert wire == b"\x03eng\x05apple\x03com\x00\x09marketing\xc0\x04"
    assert DOMAIN_SEARCH.decode(wire) == ("eng.apple.com", "marketing.apple.com")


def test_domain_search_longer_than_255_is_split_and_rejoined_in_a_message() -> None:
    from dhcpd.wire import DhcpMessage

    names = tuple(f"zone{i:03d}.site{i:03d}.example.net" for i in range(20))
    msg = DhcpMessage()
    msg.options.set(DOMAIN_SEARCH, names)
    assert len(msg.options.get_raw(119) or b"") > 255
    back = DhcpMessage.parse(msg.encode(1500))
    assert back.options.get(DOMAIN_SEARCH) == names


def test_client_fqdn_keeps_partial_and_fully_qualified_names_apart() -> None:
    partial = CLIENT_FQDN.decode(b"\x04\x00\x00\x04host")
    full = CLIENT_FQDN.decode(b"\x04\x00\x00\x04host\x00")
    assert partial.name == "host"
    assert full.name == "host."
    ascii_form = CLIENT_FQDN.decode(b"\x01\x00\x00host.example.org")
    assert ascii_form == ClientFqdn(1, 0, 0, "host.example.org")
    assert CLIENT_FQDN.decode(b"\x00\xff\xff") == ClientFqdn(0, 255, 255, "")


def test_relay_agent_info_properties() -> None:
    info = RELAY_AGENT_INFO.decode(
        b"\x01\x02ab" b"\x02\x01c" b"\x05\x04\xc0\x00\x02\x00" b"\x0b\x04\x0a\x00\x00\x01"
    )
    assert info.circuit_id == b"ab"
    assert info.remote_id == b"c"
    assert info.link_selection == A("192.0.2.0")
    assert info.server_id_override == A("10.0.0.1")
    assert info.get(99) is None
    assert RelayAgentInfo().circuit_id is None
    assert RelayAgentInfo().link_selection is None


def test_relay_agent_info_bad_link_selection_raises_invalid_option_82() -> None:
    info = RELAY_AGENT_INFO.decode(b"\x05\x03abc")
    with pytest.raises(InvalidOption) as exc:
        _ = info.link_selection
    assert exc.value.code == 82
    with pytest.raises(InvalidOption):
        _ = RELAY_AGENT_INFO.decode(b"\x0b\x00").server_id_override


# (code, bad raw value) -> the typed getter must raise InvalidOption(code)
INVALID: list[tuple[int, bytes]] = [
    (1, b"\xff\xff\xff"),
    (2, b"\x00\x00"),
    (3, b""),
    (3, b"\xc0\x00\x02\x01\x01"),
    (6, b"\x01\x02\x03"),
    (12, b""),
    (12, b"\x00\x00"),
    (12, b"\xff\xfe"),
    (15, b"\xc3"),
    (26, b"\x00\x10"),  # MTU 16 < 68 (RFC 2132 section 5.1)
    (26, b"\x05"),
    (28, b"\x01"),
    (43, b""),
    (50, b"\x01\x02\x03\x04\x05"),
    (51, b"\x00\x00\x0e"),
    (52, b"\x00"),
    (52, b"\x04"),
    (53, b""),
    (53, b"\x00"),
    (53, b"\x63"),
    (53, b"\x01\x01"),
    (54, b""),
    (56, b"\x80"),
    (57, b"\x02\x3f"),  # 575 < 576 (RFC 2132 section 9.10)
    (57, b"\x02"),
    (58, b"\x00"),
    (59, b"\x00\x00\x00\x00\x00"),
    (60, b""),
    (61, b"\x01"),  # RFC 2132 section 9.14: minimum length 2
    (66, b""),
    (67, b"\xff"),
    (77, b""),
    (80, b"\x01"),
    (81, b"\x04\x00"),
    (81, b"\x04\x00\x00\x05ab"),
    (81, b"\x04\x00\x00\xc0\x00"),
    (81, b"\x04\x00\x00\x01a\x00junk"),
    (81, b"\x00\x00\x00\xe9"),
    (82, b"\x01"),
    (82, b"\x01\x05abc"),
    (118, b"\x00\x00\x00"),
    (119, b""),
    (119, b"\x03abc"),  # missing terminating root label
    (119, b"\x03abc\x00\xc0\x06"),  # forward pointer
    (119, b"\xc0\x00"),  # self pointer
    (119, b"\x03abc\xc0\x00"),  # pointer loop back to itself
    (119, b"\x03abc\x00\xc0"),  # truncated pointer
    (119, b"\x40abc\x00"),  # reserved label type
    (119, b"\x03a.b\x00"),  # dot inside a label
    (119, b"\x03\xff\xfe\xfd\x00"),
    (119, (b"\x3f" + b"a" * 63) * 4 + b"\x00"),  # name longer than 255 octets
    (121, b""),
    (121, b"\x21\x0a\x0a\x0a\x0a\x0a\xc0\x00\x02\x01"),  # width 33
    (121, b"\x18\x0a\x00\x00\xc0\x00\x02"),  # router truncated
]


@pytest.mark.parametrize(("code", "raw"), INVALID)
def test_typed_getter_of_invalid_value_raises_invalid_option_with_its_code(
    code: int, raw: bytes
) -> None:
    opts = Options([(code, raw)])
    with pytest.raises(InvalidOption) as exc:
        value = opts.get(OPTION_DEFS[code])
        if isinstance(value, RelayAgentInfo):  # decoding 82 is lazy per sub-option too
            _ = value.link_selection
    assert exc.value.code == code
    assert str(code) in str(exc.value)


def test_max_message_size_576_is_valid_and_575_is_not() -> None:
    assert MAX_MESSAGE_SIZE.decode(b"\x02\x40") == 576
    with pytest.raises(InvalidOption):
        MAX_MESSAGE_SIZE.decode(b"\x02\x3f")


def test_text_options_strip_trailing_nul_and_accept_utf8() -> None:
    assert o.HOST_NAME.decode(b"laptop\x00") == "laptop"
    assert o.HOST_NAME.decode("büro".encode()) == "büro"


def test_classless_static_route_ignores_host_bits_past_the_prefix() -> None:
    routes = CLASSLESS_STATIC_ROUTE.decode(bytes([9, 10, 0xFF, 192, 0, 2, 1]))
    assert routes == ((IPv4Network("10.128.0.0/9"), A("192.0.2.1")),)


@pytest.mark.parametrize(
    ("definition", "value"),
    [
        (o.LEASE_TIME, -1),
        (o.LEASE_TIME, 1 << 32),
        (o.MAX_MESSAGE_SIZE, 500),
        (o.TIME_OFFSET, 1 << 31),
        (o.HOST_NAME, ""),
        (o.CLIENT_ID, b"\x01"),
        (o.RAPID_COMMIT, False),
        (o.ROUTER, ()),
        (o.DOMAIN_SEARCH, ()),
        (o.DOMAIN_SEARCH, ("a..b",)),
        (o.DOMAIN_SEARCH, ("x" * 64 + ".com",)),
        (o.DOMAIN_SEARCH, ("bücher.de",)),
        (o.CLASSLESS_STATIC_ROUTE, ()),
        (o.PARAMETER_REQUEST_LIST, (1, 256)),
        (o.CLIENT_FQDN, ClientFqdn(256, 0, 0, "x")),
        (o.RELAY_AGENT_INFO, RelayAgentInfo(((1, b"x" * 256),))),
        (o.MESSAGE_TYPE, 77),
    ],
)
def test_encoding_an_unrepresentable_value_raises_value_error(
    definition: OptionDef[Any], value: Any
) -> None:
    with pytest.raises(ValueError):
        definition.encode(value)


def test_options_container_keeps_order_joins_repeats_and_copies_deeply() -> None:
    opts = Options([(53, b"\x01"), (61, b"\x01ab"), (55, b"\x01"), (55, b"\x03")])
    assert list(opts) == [53, 61, 55]
    assert opts.get(PARAMETER_REQUEST_LIST) == (1, 3)  # RFC 3396 join
    assert 61 in opts and 12 not in opts and len(opts) == 3
    clone = opts.copy()
    clone.set(CLIENT_ID, b"\x00zz")
    clone.delete(53)
    assert opts.get(CLIENT_ID) == b"\x01ab"
    assert 53 in opts
    opts.set_raw(61, b"\x01cd")  # replacing keeps the position
    assert opts.items() == [(53, b"\x01"), (61, b"\x01cd"), (55, b"\x01\x03")]
    opts.delete(200)  # deleting an absent code is a no-op
    assert opts.get(ROUTER) is None
    with pytest.raises(ValueError):
        opts.set_raw(0, b"")
    with pytest.raises(ValueError):
        opts.set_raw(255, b"")


@pytest.mark.parametrize(
    "text",
    ["02:00:00:aa:00:01", "02-00-00-AA-00-01", "0200.00aa.0001", "020000aa0001", "2:0:0:aa:0:1"],
)
def test_hardware_address_parse_accepts_common_notations(text: str) -> None:
    hw = HardwareAddress.parse(text)
    assert hw == HardwareAddress(1, bytes.fromhex("020000aa0001"))
    assert str(hw) == "02:00:00:aa:00:01"


@pytest.mark.parametrize(
    "text", ["", "02:00-00:aa:00:01", "zz:00:00:aa:00:01", "0200.00aa.001", "123", "00" * 17]
)
def test_hardware_address_parse_rejects_garbage_with_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        HardwareAddress.parse(text)
