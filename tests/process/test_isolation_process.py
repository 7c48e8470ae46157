"""callouts.isolation: process in the real daemon: a worker that dies is restarted."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.daemon import Daemon, Relay
from tests.process.test_daemon_loopback import RELAY, SERVER, dora, free_port, write_config

DIES_ONCE = '''
import os
from dhcpd.hooks import HookTable
MARKER = {marker!r}
STARTS = {starts!r}
def dhcp_server_callout_entry(chain, api_version, settings):
    def control(event):
        with open(STARTS, "a") as f:
            f.write(event.code.name + " " + str(os.getpid()) + "\\n")
    def address_offer(event):
        if not os.path.exists(MARKER):
            open(MARKER, "w").close()
            os._exit(1)  # the first call only: the worker dies
    return HookTable(control=control, address_offer=address_offer)
'''


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def test_a_dying_worker_costs_nothing_but_its_call(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    module = tmp_path / "dies_once.py"
    starts = tmp_path / "controls.txt"
    module.write_text(DIES_ONCE.format(marker=str(tmp_path / "died"), starts=str(starts)))
    config.write_text(config.read_text() + (
        f"callouts:\n  enabled: true\n  modules: [{module}]\n"
        "  isolation: process\n  worker_restart_delay: 0.1\n"
    ))
    daemon = Daemon(config).start()
    relay = Relay(RELAY, port, str(SERVER))
    try:
        first = daemon.wait_for_event("callout_worker_started", 5)["pid"]
        assert daemon.process is not None and first != daemon.process.pid
        dora(relay, 1)  # address_offer kills the worker; the ACK is sent anyway
        died = daemon.wait_for_event("callout_worker_died", 5)
        assert died["code"] == 1 and died["pid"] == first
        second = daemon.wait_for_event("callout_worker_started", 5, count=2)["pid"]
        assert second != first and not alive(first)
        deadline = time.monotonic() + 5
        while starts.read_text().split("\n").count(f"START {second}") != 1:
            assert time.monotonic() < deadline, starts.read_text()
            time.sleep(0.05)
        dora(relay, 2)  # the new worker serves
        assert alive(second)
        daemon.signal(signal.SIGHUP)  # reload: a new worker, the old one stopped
        third = daemon.wait_for_event("callout_worker_started", 5, count=3)["pid"]
        stopped = daemon.wait_for_event("callout_worker_stopped", 5)
        assert stopped["pid"] == second and stopped["code"] == 0 and not alive(second)
        dora(relay, 3)
    finally:
        relay.close()
        code = daemon.stop()  # SIGTERM
    assert code == 0
    assert not alive(third)  # stopped with the daemon, and reaped
    assert starts.read_text().splitlines() == [
        f"START {first}", f"START {second}", f"STOP {second}", f"START {third}",
        f"STOP {third}"]
