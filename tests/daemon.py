"""Running the real daemon as a process, for the end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from dhcpd.wire import DhcpMessage, MalformedPacket

READY_TIMEOUT = 15.0


class Daemon:
    """`python -m dhcpd --config PATH`, its JSON log in a file, stopped by its PID."""

    def __init__(
        self, config_path: Path, prefix: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config_path = config_path
        self.extra_env = dict(env or {})  # added to (and overriding) our environment
        self.log_path = config_path.with_suffix(".log")
        self.prefix = list(prefix)  # e.g. ["ip", "netns", "exec", NS]
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0  # events of earlier runs sharing the log are not ours

    def start(self, wait_ready: bool = True) -> Daemon:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.extra_env)
        self.process = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "dhcpd", "--config", str(self.config_path),
             "--log-level", "debug"],
            stdout=log, stderr=log, env=env,
        )
        log.close()
        if wait_ready:
            self.wait_for_event("server_ready", READY_TIMEOUT)
        return self

    def events(self) -> list[dict[str, Any]]:
        events = []
        if not self.log_path.exists():
            return events
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            text = log.read().decode(errors="replace")
        for line in text.splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(item, dict):
                events.append(item)
        return events

    def wait_for_event(self, name: str, timeout: float, count: int = 1) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events() if e.get("event") == name]
            if len(found) >= count:
                return found[count - 1]
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"daemon exited with {self.process.returncode} before {name!r}:\n"
                    + self.log_path.read_text(errors="replace")[-4000:]
                )
            time.sleep(0.05)
        raise AssertionError(
            f"no {name!r} within {timeout}s:\n" + self.log_path.read_text(errors="replace")[-4000:]
        )

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 10.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode


class Relay:
    """A fake relay agent on loopback: sends with giaddr set, hears replies on its port."""

    def __init__(self, address: str, port: int, server: str) -> None:
        self.address = IPv4Address(address)
        self.server = (server, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, port))
        self.sock.settimeout(3.0)

    def exchange(self, message: DhcpMessage) -> DhcpMessage | None:
        self.sock.sendto(message.encode(), self.server)
        return self.receive(message.xid)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def receive(self, xid: int) -> DhcpMessage | None:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            try:
                data, _ = self.sock.recvfrom(4096)
            except TimeoutError:
                return None
            try:
                reply = DhcpMessage.parse(data)
            except MalformedPacket:
                continue
            if reply.xid == xid:
                return reply
        return None

    def close(self) -> None:
        self.sock.close()
