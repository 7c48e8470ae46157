"""Integration tests: everything under tests/integration is marked ``netns``.

A ``netns`` test SKIPS (with the reason) where namespaces cannot be made, e.g. on a
laptop without root, but FAILS when ``CI=true``: under CI an integration test that
cannot run must never be counted as passed.

Tests marked ``kea`` are harness self-checks against the reference server Kea; they run
only when ``DHCPD_TEST_KEA=1`` and otherwise skip (also under CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.netns import VethLink, make_pair, netns_available

_HERE = Path(__file__).resolve().parent


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def kea_requested() -> bool:
    return os.environ.get("DHCPD_TEST_KEA", "") == "1"


def require_netns() -> None:
    """Skip (or, under CI=true, fail) the calling test when namespaces are unusable."""
    reason = netns_available()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"CI=true but integration tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "netns: needs root and network namespaces (runs under CI=true, skips elsewhere)"
    )
    config.addinivalue_line(
        "markers", "kea: harness self-check against kea-dhcp4; runs only with DHCPD_TEST_KEA=1"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.netns)


def pytest_runtest_setup(item: pytest.Item) -> None:
    # The Kea self-checks are opt-in: decide that first, so CI never fails on them.
    if item.get_closest_marker("kea") is not None and not kea_requested():
        pytest.skip("Kea harness self-check: set DHCPD_TEST_KEA=1 to run")
    if item.get_closest_marker("netns") is not None:
        require_netns()


@pytest.fixture
def veth(request: pytest.FixtureRequest) -> Iterator[VethLink]:
    """A fresh server/client namespace pair (server 192.0.2.1/24), removed afterwards."""
    require_netns()
    link = make_pair("dt")
    try:
        yield link
    finally:
        link.close()
