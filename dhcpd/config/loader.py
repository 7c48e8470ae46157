"""Load the YAML file into a RuntimeConfig, collecting every error with its YAML path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dhcpd.errors import ConfigError
from dhcpd.wire import HardwareAddress

from .models import DhcpdConfig, SubnetSettings
from .options import EncodedOptions, encode_option_set
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
    errors: list[str] = []
    global_options = encode_option_set(model.options, "options", errors)
    subnets = []
    seen_ids: set[int] = set()
    for index, settings in enumerate(model.subnets):
        subnet = _build_subnet(index, settings, model, errors)
        if subnet.id in seen_ids:
            errors.append(f"subnets[{index}].id: {subnet.id} is used by another subnet")
        seen_ids.add(subnet.id)
        subnets.append(subnet)
    if errors:
        raise ConfigError(source, errors)
    return RuntimeConfig(
        server=model.server,
        lease_store=model.lease_store,
        logging=model.logging,
        options=global_options,
        subnets=tuple(subnets),
        source=model,
    )


def _build_subnet(
    index: int, s: SubnetSettings, model: DhcpdConfig, errors: list[str]
) -> Subnet:
    path = f"subnets[{index}]"
    options = encode_option_set(s.options, f"{path}.options", errors)
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
        r_options: EncodedOptions = encode_option_set(r.options, f"{r_path}.options", errors)
        reservations.append(Reservation(r.ip_address, hw, client_id, r.hostname, r_options))
    lease_time = s.lease_time
    return Subnet(
        id=s.id if s.id is not None else index + 1,
        network=s.subnet,
        pools=tuple(Pool(*p.bounds(), allow_bootp=p.allow_bootp) for p in s.pools),
        lease_time=lease_time,
        min_lease_time=s.min_lease_time or lease_time,
        max_lease_time=s.max_lease_time or lease_time,
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
