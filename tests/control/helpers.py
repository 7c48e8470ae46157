"""A real daemon with a control socket (and TCP listener, metrics) on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from dhcpd.control.client import ControlClient
from tests.daemon import Daemon, Relay
from tests.process.test_daemon_loopback import RELAY, SERVER, free_port

TOKEN = "test-token-0123456789"


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def write_config(directory: Path, port: int, tcp_port: int, metrics_port: int,
                 extra: str = "") -> Path:
    path = directory / "dhcpd.yaml"
    path.write_text(f"""
server:
  listen_address: 127.0.0.1
  port: {port}
  client_port: {port + 1 if port < 65535 else port - 1}
lease_store:
  type: sqlite
  path: {directory / "leases.sqlite3"}
  commit_delay_ms: 0
logging: {{level: debug, format: json}}
control:
  socket: {directory / "ctl.sock"}
  tcp: {{address: 127.0.0.1, port: {tcp_port}, token: {TOKEN}}}
metrics: {{address: 127.0.0.1, port: {metrics_port}}}
subnets:
  - subnet: 127.0.0.0/8
    pools: [{{range: 127.0.1.10-127.0.1.250}}]
    lease_time: 3600
    options: {{routers: [127.0.0.1]}}
{extra}""")
    return path


@dataclass
class Served:
    daemon: Daemon
    relay: Relay
    directory: Path
    config: Path
    tcp_port: int
    metrics_port: int

    @property
    def socket(self) -> Path:
        return self.directory / "ctl.sock"

    @property
    def database(self) -> Path:
        return self.directory / "leases.sqlite3"

    def client(self) -> ControlClient:
        return ControlClient(self.socket, timeout=5.0)

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dhcpd", "ctl", "--socket", str(self.socket), *args],
            capture_output=True, text=True, timeout=30,
        )


def serve(directory: Path) -> Served:
    port = free_port()
    tcp_port, metrics_port = free_tcp_port(), free_tcp_port()
    config = write_config(directory, port, tcp_port, metrics_port)
    daemon = Daemon(config).start()
    relay = Relay(RELAY, port, str(SERVER))
    return Served(daemon, relay, directory, config, tcp_port, metrics_port)
