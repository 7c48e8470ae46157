"""Turn the options written by name in the YAML into encoded (code, bytes) pairs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from dhcpd.wire import OPTION_DEFS_BY_NAME

from .models import OptionSet

# Names operators know from Kea and dhcpd, mapped to the codec's names.
ALIASES = {
    "routers": "router",
    "domain_name_servers": "domain_name_server",
    "dns_servers": "domain_name_server",
    "ntp_server": "ntp_servers",
    "netbios_name_server": "netbios_name_servers",
    "mtu": "interface_mtu",
    "classless_static_routes": "classless_static_route",
    "routes": "classless_static_route",
    "search_domains": "domain_search",
}


def _ip(value: Any) -> IPv4Address:
    return IPv4Address(str(value))


def _ip_list(value: Any) -> tuple[IPv4Address, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("needs at least one address")
    return tuple(_ip(v) for v in items)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _text_list(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(_text(v) for v in items)


def _hex(value: Any) -> bytes:
    # Unquoted YAML like 0102 would arrive as a number (octal!): insist on a string.
    if not isinstance(value, str):
        raise ValueError(f"write hex as a quoted string, e.g. \"01:02\", not {value!r}")
    return bytes.fromhex(value.replace(":", "").replace("-", ""))


def _routes(value: Any) -> tuple[tuple[IPv4Network, IPv4Address], ...]:
    """RFC 3442 routes, written as "198.51.100.0/24 via 192.0.2.1" strings."""
    if not isinstance(value, list) or not value:
        raise ValueError("expected a list of 'NETWORK via GATEWAY'")
    routes = []
    for item in value:
        parts = str(item).split()
        if len(parts) != 3 or parts[1] != "via":
            raise ValueError(f"'{item}' is not 'NETWORK via GATEWAY'")
        routes.append((IPv4Network(parts[0]), IPv4Address(parts[2])))
    return tuple(routes)


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "subnet_mask": _ip,
    "broadcast_address": _ip,
    "router": _ip_list,
    "domain_name_server": _ip_list,
    "ntp_servers": _ip_list,
    "netbios_name_servers": _ip_list,
    "time_offset": _int,
    "interface_mtu": _int,
    "domain_name": _text,
    "host_name": _text,
    "tftp_server_name": _text,
    "bootfile_name": _text,
    "domain_search": _text_list,
    "vendor_specific": _hex,
    "classless_static_route": _routes,
}

# Options the server sets itself in every reply; configuring them would be ignored.
SERVER_MANAGED = frozenset({51, 52, 53, 54, 55, 58, 59, 61, 82})


@dataclass(frozen=True, slots=True)
class OptionBundle:
    """Encoded option values by code, and the codes sent even when not requested."""

    values: Mapping[int, bytes] = field(default_factory=dict)
    always_send: frozenset[int] = frozenset()

    def overlay(self, specific: OptionBundle) -> OptionBundle:
        """This bundle with `specific` (a subnet's, a reservation's) taking precedence."""
        if not specific.values:
            return self
        # frozenset - dict_keys is a plain set (dict_keys.__rsub__): freeze it again
        always = frozenset((self.always_send - specific.values.keys()) | specific.always_send)
        return OptionBundle({**self.values, **specific.values}, always)


def encode_option_set(options: OptionSet, path: str, errors: list[str]) -> OptionBundle:
    """Encode every option; each problem is appended to `errors` with its YAML path."""
    encoded: dict[int, bytes] = {}
    always: set[int] = set()
    for raw_name, value in options.named().items():
        name = ALIASES.get(raw_name.replace("-", "_"), raw_name.replace("-", "_"))
        where = f"{path}.{raw_name}"
        convert = CONVERTERS.get(name)
        definition = OPTION_DEFS_BY_NAME.get(name)
        if convert is None or definition is None:
            known = ", ".join(sorted(CONVERTERS))
            errors.append(f"{where}: unknown option name (known: {known}; or use 'custom')")
            continue
        try:
            encoded[definition.code] = definition.encode(convert(value))
        except (ValueError, TypeError) as exc:
            errors.append(f"{where}: {exc}")
    for i, custom in enumerate(options.custom):
        where = f"{path}.custom[{i}]"
        if custom.code in SERVER_MANAGED:
            errors.append(f"{where}.code: option {custom.code} is set by the server itself")
        elif not custom.payload():
            errors.append(f"{where}: empty payload")
        encoded[custom.code] = custom.payload()
        if custom.always_send:
            always.add(custom.code)
    return OptionBundle(encoded, frozenset(always))
