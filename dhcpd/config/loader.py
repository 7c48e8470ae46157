"""Load the YAML file into a RuntimeConfig, collecting every error with its YAML path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dhcpd.errors import ConfigError
from dhcpd.wire import HardwareAddress

from .models import DhcpdConfig, SubnetSettings
from .options import OptionBundle, encode_option_set
from .runtime import Pool, Reservation, RuntimeConfig, Subnet


def _yaml_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def load_config(path: str | Path) -> RuntimeConfig:
    """Read and validate `path`; raise ConfigError naming every problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, [f"cannot read the file: {exc.strerror}"]) from None
    return parse_config(text, source)


def parse_config(text: str, source: str = "<string>") -> RuntimeConfig:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [f"not valid YAML: {exc}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["the top level must be a mapping"])
    try:
        model = DhcpdConfig.model_validate(data)
    except ValidationError as exc:
        errors = [f"{_yaml_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(source, errors) from None
    return build_runtime(model, source)


def build_runtime(model: DhcpdConfig, source: str = "<model>") -> RuntimeConfig:
    """Checks that span several settings, each error with its path, then the runtime view."""
    errors: list[str] = []
    global_options = encode_option_set(model.options, "options", errors)
    subnets: list[Subnet] = []
    seen_ids: dict[int, int] = {}
    seen_interfaces: dict[str, int] = {}
    for index, settings in enumerate(model.subnets):
        subnet = _build_subnet(index, settings, model, global_options, errors)
        if subnet.id in seen_ids:
            errors.append(f"subnets[{index}].id: {subnet.id} is also the id of "
                          f"subnets[{seen_ids[subnet.id]}]")
        seen_ids.setdefault(subnet.id, index)
        if subnet.interface is not None:
            if subnet.interface in seen_interfaces:
                errors.append(f"subnets[{index}].interface: {subnet.interface} is also the "
                              f"interface of subnets[{seen_interfaces[subnet.interface]}]")
            seen_interfaces.setdefault(subnet.interface, index)
        for other_index, other in enumerate(subnets):
            if subnet.network.overlaps(other.network):
                errors.append(f"subnets[{index}].subnet: {subnet.network} overlaps "
                              f"subnets[{other_index}] {other.network}")
        subnets.append(subnet)
    for index, subnet in enumerate(subnets):
        for r_index, relay in enumerate(subnet.relay_addresses):
            owner = next((i for i, s in enumerate(subnets) if relay in s.network), None)
            if owner is not None and owner != index:
                errors.append(f"subnets[{index}].relay_addresses[{r_index}]: {relay} is "
                              f"inside subnets[{owner}], which it would select instead")
    if errors:
        raise ConfigError(source, errors)
    return RuntimeConfig(
        server=model.server,
        lease_store=model.lease_store,
        logging=model.logging,
        options=global_options,
        subnets=tuple(subnets),
        source=model,
        control=model.control,
        metrics=model.metrics,
    )


def _check_pools(path: str, s: SubnetSettings, errors: list[str]) -> list[Pool]:
    pools: list[Pool] = []
    network, broadcast = s.subnet.network_address, s.subnet.broadcast_address
    for index, settings in enumerate(s.pools):
        where = f"{path}.pools[{index}].range"
        pool = Pool(*settings.bounds(), allow_bootp=settings.allow_bootp)
        if pool.first not in s.subnet or pool.last not in s.subnet:
            errors.append(f"{where}: {settings.range} is not inside {s.subnet}")
            continue
        if s.subnet.prefixlen < 31 and (network in pool or broadcast in pool):
            errors.append(f"{where}: {settings.range} includes the network or broadcast "
                          f"address of {s.subnet}")
        for other_index, other in enumerate(pools):
            if pool.first <= other.last and other.first <= pool.last:
                errors.append(f"{where}: {settings.range} overlaps pools[{other_index}]")
        pools.append(pool)
    return pools


def _check_timers(path: str, s: SubnetSettings, errors: list[str]) -> tuple[int, int]:
    lease_time = s.lease_time
    low = s.min_lease_time or lease_time
    high = s.max_lease_time or lease_time
    if not low <= lease_time <= high:
        errors.append(f"{path}: need min_lease_time <= lease_time <= max_lease_time, "
                      f"got {low} <= {lease_time} <= {high}")
    # RFC 2131 section 4.4.5: T1 < T2 < lease time, defaults filled in.
    t1 = s.renew_timer if s.renew_timer is not None else lease_time // 2
    t2 = s.rebind_timer if s.rebind_timer is not None else lease_time * 7 // 8
    if (s.renew_timer is not None or s.rebind_timer is not None) and not t1 < t2:
        errors.append(f"{path}: renew_timer (T1 = {t1}) must be shorter than "
                      f"rebind_timer (T2 = {t2})")
    return low, high


def _build_subnet(
    index: int, s: SubnetSettings, model: DhcpdConfig, global_options: OptionBundle,
    errors: list[str],
) -> Subnet:
    path = f"subnets[{index}]"
    pools = _check_pools(path, s, errors)
    min_lease, max_lease = _check_timers(path, s, errors)
    options = global_options.overlay(encode_option_set(s.options, f"{path}.options", errors))
    reservations = []
    taken: dict[object, int] = {}
    for r_index, r in enumerate(s.reservations):
        r_path = f"{path}.reservations[{r_index}]"
        hw = None
        if r.hw_address is not None:
            try:
                hw = HardwareAddress.parse(r.hw_address)
            except ValueError as exc:
                errors.append(f"{r_path}.hw_address: {exc}")
        client_id = None
        if r.client_id is not None:
            client_id = bytes.fromhex(r.client_id.replace(":", "").replace("-", ""))
        if r.ip_address not in s.subnet:
            errors.append(f"{r_path}.ip_address: {r.ip_address} is not inside {s.subnet}")
        for key in (r.ip_address, hw, client_id):
            if key is not None and key in taken:
                errors.append(f"{r_path}: {key!s} is already reserved by reservation {taken[key]}")
            elif key is not None:
                taken[key] = r_index
        r_options = encode_option_set(r.options, f"{r_path}.options", errors)
        if r.hostname and 12 not in r_options.values:
            # The reservation's host name is its option 12 (RFC 2132 section 3.14).
            r_options = OptionBundle({**r_options.values, 12: r.hostname.encode()},
                                     r_options.always_send)
        reservations.append(Reservation(r.ip_address, hw, client_id, r.hostname, r_options))
    return Subnet(
        id=s.id if s.id is not None else index + 1,
        network=s.subnet,
        pools=tuple(pools),
        lease_time=s.lease_time,
        min_lease_time=min_lease,
        max_lease_time=max_lease,
        renew_timer=s.renew_timer,
        rebind_timer=s.rebind_timer,
        authoritative=(
            s.authoritative if s.authoritative is not None else model.server.authoritative
        ),
        rapid_commit=(
            s.rapid_commit if s.rapid_commit is not None else model.server.rapid_commit
        ),
        options=options,
        reservations=tuple(reservations),
        interface=s.interface,
        relay_addresses=tuple(s.relay_addresses),
    )
