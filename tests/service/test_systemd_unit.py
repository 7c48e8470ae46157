"""The systemd unit: `systemd-analyze verify` accepts it, and it says what we promise."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.service.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "dhcpd.service"
SYSUSERS = ROOT / "systemd" / "dhcpd.sysusers"


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.fixture
def runnable_unit(tmp_path: Path) -> Path:
    """A copy whose Exec lines run a real program: verify checks that they exist."""
    launcher = tmp_path / "dhcpd"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} -m dhcpd \"$@\"\n")
    launcher.chmod(0o755)
    text = UNIT.read_text().replace("/opt/dhcpd/bin/dhcpd", str(launcher))
    copy = tmp_path / "dhcpd.service"
    copy.write_text(text)
    return copy


def verify(unit: Path) -> tuple[int, list[str]]:
    """Run systemd-analyze verify; the lines that are about `unit` itself."""
    if shutil.which("systemd-analyze") is None:
        skip_or_fail("systemd-analyze is missing (Debian package systemd)")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=60,
    )
    output = (result.stdout + result.stderr).splitlines()
    return result.returncode, [line for line in output if unit.name in line]


def test_systemd_analyze_verify_finds_nothing_wrong(runnable_unit: Path) -> None:
    returncode, complaints = verify(runnable_unit)
    assert complaints == []
    assert returncode == 0


def test_verify_would_catch_a_bad_directive(runnable_unit: Path) -> None:
    """The check above is worth something: a typo in the unit is reported."""
    runnable_unit.write_text(
        runnable_unit.read_text().replace("WatchdogSec=30", "WatchdogSec=30\nWatchDogSec=30")
    )
    _, complaints = verify(runnable_unit)
    assert any("WatchDogSec" in line for line in complaints), complaints


def test_the_unit_is_a_hardened_notify_service() -> None:
    unit = directives(UNIT.read_text())
    expect = {
        "Type": "notify",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "WatchdogSec": "30",
        "Restart": "on-failure",
        "User": "dhcpd",
        "Group": "dhcpd",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "StateDirectory": "dhcpd",
        "RuntimeDirectory": "dhcpd",
        "ConfigurationDirectory": "dhcpd",
    }
    for key, value in expect.items():
        assert unit.get(key) == [value], key
    assert unit["ExecStart"] == ["/opt/dhcpd/bin/dhcpd --config /etc/dhcpd/dhcpd.yaml"]
    caps = {"CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_NET_ADMIN"}
    assert set(unit["AmbientCapabilities"][0].split()) == caps
    assert set(unit["CapabilityBoundingSet"][0].split()) == caps
    assert set(unit["RestrictAddressFamilies"][0].split()) == {
        "AF_INET", "AF_UNIX", "AF_NETLINK", "AF_PACKET"}


def test_sysusers_creates_the_units_user() -> None:
    entries = [line.split() for line in SYSUSERS.read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert any(entry[:2] == ["u", "dhcpd"] for entry in entries)
    # The home is the state directory, the shell none.
    assert re.search(r"/var/lib/dhcpd\s+/usr/sbin/nologin", SYSUSERS.read_text())


def test_systemd_sysusers_accepts_the_file(tmp_path: Path) -> None:
    if shutil.which("systemd-sysusers") is None:
        skip_or_fail("systemd-sysusers is missing (Debian package systemd)")
    (tmp_path / "etc").mkdir()
    result = subprocess.run(
        ["systemd-sysusers", "--dry-run", f"--root={tmp_path}", str(SYSUSERS)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Creating user 'dhcpd'" in result.stdout + result.stderr
