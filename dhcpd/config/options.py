"""Turn the options written by name in the YAML into encoded (code, bytes) pairs."""

from __future__ import annotations

from collections.abc import Callable
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
    return bytes.fromhex(str(value).replace(":", ""))


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

EncodedOptions = tuple[tuple[int, bytes], ...]


def encode_option_set(options: OptionSet, path: str, errors: list[str]) -> EncodedOptions:
    """Encode every option; each problem is appended to `errors` with its YAML path."""
    encoded: dict[int, bytes] = {}
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
        encoded[custom.code] = custom.payload()
        if not custom.payload():
            errors.append(f"{path}.custom[{i}]: empty payload")
    return tuple(encoded.items())
