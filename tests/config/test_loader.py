"""Loading the YAML: every error named by its path, and the runtime view built right."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from dhcpd.config import load_config, parse_config
from dhcpd.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "dhcpd.yaml"


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.errors


def test_the_shipped_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert config.subnets and config.subnets[0].pools


def test_structural_errors_are_all_listed_with_their_paths() -> None:
    errors = errors_of("""
server: {port: 0, workerz: 3}
lease_store: {type: sqlite, commit_delay_ms: -1}
subnets:
  - subnet: 192.0.2.0/33
""")
    joined = "\n".join(errors)
    for where in ("server.port", "server.workerz", "lease_store.sqlite.commit_delay_ms",
                  "subnets[0].subnet"):
        assert where in joined, joined


def test_semantic_errors_are_all_listed_with_their_paths() -> None:
    errors = errors_of("""
options:
  routers: [192.0.2.300]
  frobnicate: 1
  vendor_specific: 0102
  custom: [{code: 53, hex: "01"}]
subnets:
  - subnet: 192.0.2.0/24
    lease_time: 100
    min_lease_time: 200
    renew_timer: 90
    pools:
      - range: 192.0.2.0-192.0.2.10
      - range: 192.0.2.5-192.0.2.20
      - range: 198.51.100.1-198.51.100.2
    reservations:
      - {ip_address: 203.0.113.1, hw_address: "02:00:00:00:00:01"}
      - {ip_address: 192.0.2.50, hw_address: "02:00:00:00:00:01"}
  - subnet: 192.0.2.128/25
""")
    expected = [
        "options.routers", "options.frobnicate", "options.vendor_specific",
        "options.custom[0].code", "subnets[0]: need min_lease_time",
        "subnets[0]: renew_timer", "subnets[0].pools[0].range: 192.0.2.0-192.0.2.10 includes",
        "subnets[0].pools[1].range: 192.0.2.5-192.0.2.20 overlaps pools[0]",
        "subnets[0].pools[2].range", "subnets[0].reservations[0].ip_address",
        "subnets[0].reservations[1]: 02:00:00:00:00:01 is already reserved",
        "subnets[1].subnet: 192.0.2.128/25 overlaps subnets[0]",
    ]
    for fragment in expected:
        assert any(fragment in error for error in errors), (fragment, errors)


def test_subnet_options_are_merged_over_global_ones() -> None:
    config = parse_config("""
options: {domain_name: global.test, routers: [192.0.2.254]}
subnets:
  - subnet: 192.0.2.0/24
    options: {routers: [192.0.2.1]}
""")
    values = config.subnets[0].options.values
    assert values[15] == b"global.test"
    assert values[3] == IPv4Address("192.0.2.1").packed


def test_always_send_belongs_to_the_most_specific_definition() -> None:
    config = parse_config("""
options:
  custom: [{code: 252, text: "global", always_send: true}]
subnets:
  - subnet: 192.0.2.0/24
    options:
      custom: [{code: 252, text: "subnet"}]
    reservations:
      - hw_address: "02:00:00:00:00:01"
        ip_address: 192.0.2.10
        options:
          custom: [{code: 224, text: "reserved", always_send: true}]
""")
    subnet = config.subnets[0]
    assert subnet.options.values[252] == b"subnet"
    assert 252 not in subnet.options.always_send
    merged = subnet.options.overlay(subnet.reservations[0].options)
    assert merged.always_send == {224}


def test_kea_style_option_names_are_accepted() -> None:
    config = parse_config("""
options: {domain-name-servers: [192.0.2.53], ntp-server: [192.0.2.123]}
""")
    assert config.options.values[6] == IPv4Address("192.0.2.53").packed
    assert config.options.values[42] == IPv4Address("192.0.2.123").packed


def test_reservation_hostname_becomes_option_12() -> None:
    config = parse_config("""
subnets:
  - subnet: 192.0.2.0/24
    reservations: [{hw_address: "02:00:00:00:00:01", ip_address: 192.0.2.9, hostname: pc9}]
""")
    assert config.subnets[0].reservations[0].options.values[12] == b"pc9"


def test_unreadable_and_non_yaml_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.yaml")
    assert "not valid YAML" in errors_of("subnets: [unclosed")[0]
    assert "top level must be a mapping" in errors_of("- a\n- b")[0]
