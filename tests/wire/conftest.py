from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_NAMES = ("udhcpc_discover", "udhcpc_discover_hostname_fqdn", "dhclient_discover")


def load_fixture(name: str) -> bytes:
    return bytes.fromhex((FIXTURES / f"{name}.hex").read_text().strip())


@pytest.fixture(params=FIXTURE_NAMES)
def captured_discover(request: pytest.FixtureRequest) -> bytes:
    return load_fixture(request.param)
