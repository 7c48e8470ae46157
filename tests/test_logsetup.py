"""Module loggers follow reconfiguration, and a packet's log lines name it."""

from __future__ import annotations

import contextvars
import json
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest
import structlog

from dhcpd import logsetup
from dhcpd.leases import CommitOutcome
from dhcpd.logsetup import configure_logging, get_logger, set_packet_context


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    # structlog as other tests find it (unconfigured), not bound to this
    # test's captured stderr, which closes after it.
    structlog.reset_defaults()
    logsetup.rebind_loggers()


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_logger_made_before_a_reconfiguration_follows_its_level(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("warning", "json")
    log = get_logger("dhcpd.test")  # made while warning: info is a no-op
    log.info("hidden")
    configure_logging("info", "json")  # e.g. a SIGHUP reload
    log.info("shown")
    events = [line["event"] for line in lines(capsys.readouterr().err)]
    assert events == ["shown"]


def test_packet_lines_carry_the_packet_and_addresses_and_enums_as_text(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("info", "json")
    log = get_logger("dhcpd.test")

    def in_a_packet() -> None:
        set_packet_context(0x1234, "02:00:00:00:00:01", "veth0")
        log.info("lease_committed", address=IPv4Address("192.0.2.10"),
                 outcome=CommitOutcome.RENEWED)

    contextvars.copy_context().run(in_a_packet)
    log.info("outside")  # the packet's context stayed in its own context
    first, second = lines(capsys.readouterr().err)
    assert (first["xid"], first["client"], first["interface"], first["address"]) == \
        ("0x00001234", "02:00:00:00:00:01", "veth0", "192.0.2.10")
    assert first["outcome"] == "renewed"  # an enum member is written as its value
    assert "xid" not in second
