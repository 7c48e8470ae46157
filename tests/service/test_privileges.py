"""Privilege drop: the real daemon started as root ends up as `nobody` with three capabilities.

Needs root (skips elsewhere, FAILS under CI=true).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dhcpd.service.privileges import CAPABILITIES
from tests.daemon import Daemon, Relay
from tests.process.test_daemon_loopback import dora, free_port, stored_leases, write_config
from tests.service.conftest import skip_or_fail

USER = "nobody"
KEPT = sum(1 << cap for cap in CAPABILITIES.values())  # net_bind_service, net_admin, net_raw


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A directory the unprivileged user owns, reachable by it (pytest's tmp_path is 0700)."""
    if os.geteuid() != 0:
        skip_or_fail("the privilege drop needs the test to run as root")
    entry = pwd.getpwnam(USER)
    path = Path(tempfile.mkdtemp(prefix="dhcpd-priv-", dir="/tmp"))
    path.chmod(0o755)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def test_root_daemon_drops_to_the_user_keeping_the_network_capabilities(
    state_dir: Path,
) -> None:
    port = free_port()
    entry = pwd.getpwnam(USER)
    config = write_config(state_dir, port)
    config.write_text(config.read_text().replace(
        "server:\n", f"server:\n  user: {USER}\n  health_socket: {state_dir / 'health.sock'}\n",
        1) + f"control: {{socket: {state_dir / 'control.sock'}}}\n")
    daemon = Daemon(config).start()
    relay = Relay("127.0.0.2", port, "127.0.0.1")
    try:
        dropped = daemon.wait_for_event("privileges_dropped", 5)
        assert dropped["uid"] == entry.pw_uid and dropped["gid"] == entry.pw_gid
        assert dropped["capabilities"] == ["net_admin", "net_bind_service", "net_raw"]
        assert daemon.process is not None
        status = proc_status(daemon.process.pid)
        assert status["Uid"].split() == [str(entry.pw_uid)] * 4
        assert status["Gid"].split() == [str(entry.pw_gid)] * 4
        assert status["Groups"].split() == [str(entry.pw_gid)]
        assert int(status["CapEff"], 16) == KEPT
        assert int(status["CapPrm"], 16) == KEPT
        assert int(status["CapInh"], 16) == 0
        assert int(status["CapAmb"], 16) == 0
        assert int(status["CapBnd"], 16) == KEPT

        # Still serving, and committing leases to the database it now owns.
        given = {dora(relay, n) for n in range(1, 6)}
        daemon.wait_for_event("lease_committed", 5, count=5)
        assert set(stored_leases(state_dir / "leases.sqlite3")) == given
        for name in ("leases.sqlite3", "leases.sqlite3-wal", "leases.sqlite3-shm",
                     "health.sock", "control.sock"):
            assert (state_dir / name).stat().st_uid == entry.pw_uid, name

        health = subprocess.run(
            [sys.executable, "-m", "dhcpd.service.health", "--socket",
             str(state_dir / "health.sock")], capture_output=True, text=True, timeout=30)
        assert health.returncode == 0, health.stderr
        assert '"leases": 5' in health.stdout
    finally:
        relay.close()
        assert daemon.stop() == 0
    assert set(stored_leases(state_dir / "leases.sqlite3")) == given


def test_an_unknown_user_stops_the_start_with_its_yaml_path(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    config.write_text(config.read_text().replace(
        "server:\n", "server:\n  user: no-such-user-here\n  group: no-such-group\n", 1))
    result = subprocess.run([sys.executable, "-m", "dhcpd", "--config", str(config)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "server.user" in result.stderr and "no-such-user-here" in result.stderr
    assert "server.group" in result.stderr


CALLOUT = '''
import os
from pathlib import Path

from dhcpd.hooks import HookTable

HERE = Path(__file__).parent
(HERE / "import-euid").write_text(str(os.geteuid()))


def dhcp_server_callout_entry(chain, api_version, settings):
    (HERE / "entry-euid").write_text(str(os.geteuid()))
    return HookTable()
'''


def test_an_in_process_callout_is_imported_only_after_the_drop(state_dir: Path) -> None:
    port = free_port()
    entry = pwd.getpwnam(USER)
    module = state_dir / "who_am_i.py"
    module.write_text(CALLOUT)
    module.chmod(0o644)
    config = write_config(state_dir, port)
    config.write_text(config.read_text().replace(
        "server:\n", f"server:\n  user: {USER}\n", 1)
        + f"callouts:\n  enabled: true\n  modules: [{module}]\n")
    daemon = Daemon(config).start()
    try:
        daemon.wait_for_event("privileges_dropped", 5)
        # Module code and entry function both ran as the service user, never as root.
        assert (state_dir / "import-euid").read_text() == str(entry.pw_uid)
        assert (state_dir / "entry-euid").read_text() == str(entry.pw_uid)
    finally:
        assert daemon.stop() == 0
