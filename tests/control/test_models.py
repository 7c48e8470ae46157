"""The pydantic models of the control API and of the new configuration sections."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dhcpd.config import parse_config
from dhcpd.config.models import ControlSettings
from dhcpd.control.models import (
    ControlRequest,
    ControlResponse,
    LeaseAddArguments,
    LeaseGetArguments,
    LeasesListArguments,
)
from dhcpd.errors import ConfigError


def test_a_request_needs_a_command_and_takes_arguments() -> None:
    request = ControlRequest.model_validate({"command": "status"})
    assert request.arguments == {} and request.token is None
    with pytest.raises(ValidationError):
        ControlRequest.model_validate({"arguments": {}})
    with pytest.raises(ValidationError):
        ControlRequest.model_validate({"command": "status", "surprise": 1})
    with pytest.raises(ValidationError):
        ControlRequest.model_validate({"command": "status", "arguments": [1]})


def test_a_response_is_one_json_line() -> None:
    line = ControlResponse.ok("fine", {"a": 1}).line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert ControlResponse.model_validate_json(line).arguments == {"a": 1}
    assert ControlResponse.error("bad").result == "error"


def test_lease_get_wants_exactly_one_key() -> None:
    assert LeaseGetArguments.model_validate({"address": "192.0.2.1"}).address is not None
    assert LeaseGetArguments.model_validate({"client_id": "01:02:03"}).client_id == "01:02:03"
    for bad in ({}, {"address": "192.0.2.1", "hw_address": "02:00:00:00:00:01"},
                {"hw_address": "not a mac"}, {"client_id": "xyz"}, {"address": "300.0.0.1"}):
        with pytest.raises(ValidationError):
            LeaseGetArguments.model_validate(bad)


def test_lease_add_validates_its_fields() -> None:
    args = LeaseAddArguments.model_validate(
        {"address": "192.0.2.50", "hw_address": "02:00:00:00:00:50", "lease_time": 3600})
    assert args.lease_time == 3600 and args.client_id is None
    for bad in ({"address": "192.0.2.50"},
                {"address": "192.0.2.50", "hw_address": "02:00", "lease_time": 0},
                {"address": "192.0.2.50", "hw_address": "02:00", "client_id": ""},
                {"address": "192.0.2.50", "hw_address": "02:00", "bogus": 1}):
        with pytest.raises(ValidationError):
            LeaseAddArguments.model_validate(bad)


def test_leases_list_filters() -> None:
    assert LeasesListArguments.model_validate({}).limit == 1000
    with pytest.raises(ValidationError):
        LeasesListArguments.model_validate({"state": "gone"})
    with pytest.raises(ValidationError):
        LeasesListArguments.model_validate({"limit": 0})


def test_control_settings_defaults_and_octal_modes() -> None:
    settings = ControlSettings()
    assert settings.socket is None and settings.socket_mode == 0o660 and settings.tcp is None
    assert ControlSettings.model_validate({"socket_mode": "0640"}).socket_mode == 0o640
    assert ControlSettings.model_validate({"socket_mode": "0o600"}).socket_mode == 0o600
    assert ControlSettings.model_validate({"socket_mode": 0o660}).socket_mode == 0o660
    for bad in (660, "rw-rw----", "0999"):
        with pytest.raises(ValidationError):
            ControlSettings.model_validate({"socket_mode": bad})


def test_config_sections_control_and_metrics() -> None:
    config = parse_config("control: {socket: ./x.sock}\nmetrics: {}\n")
    assert str(config.control.socket) == "x.sock"
    assert config.metrics is not None and config.metrics.port == 9267
    assert str(config.metrics.address) == "127.0.0.1"
    assert parse_config("").metrics is None
    assert parse_config("").control.socket is None


def test_a_tcp_listener_without_a_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("control: {tcp: {port: 9000}}")
    assert any(e.startswith("control.tcp.token") for e in caught.value.errors)
    with pytest.raises(ConfigError):
        parse_config("control: {tcp: {port: 9000, token: short}}")
    config = parse_config("control: {tcp: {port: 9000, token: 0123456789abcdef}}")
    assert config.control.tcp is not None and str(config.control.tcp.address) == "127.0.0.1"
