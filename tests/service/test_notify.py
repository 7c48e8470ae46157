"""systemd notification: the real daemon process talks to a datagram socket we listen on."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dhcpd.service.notify import Notifier, watchdog_interval
from tests.daemon import Daemon, Relay
from tests.process.test_daemon_loopback import dora, free_port, write_config


class NotifyListener:
    """What systemd does: bind a datagram socket, read KEY=VALUE datagrams."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.messages: list[dict[str, str]] = []

    def receive(self, timeout: float) -> dict[str, str] | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        message = dict(line.split("=", 1) for line in data.decode().splitlines())
        self.messages.append(message)
        return message

    def wait_for(self, key: str, timeout: float = 10.0,
                 ignore: str = "WATCHDOG") -> dict[str, str]:
        """The next message that is not a `ignore` ping; it must carry `key`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self.receive(left)
            if message is None:
                break
            if set(message) == {ignore}:
                continue
            assert key in message, f"expected {key}, got {message}"
            return message
        raise AssertionError(f"no {key} within {timeout}s (got {self.messages})")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[NotifyListener]:
    instance = NotifyListener(str(tmp_path / "notify.sock"))
    yield instance
    instance.close()


def test_ready_reload_watchdog_stopping(
    tmp_path: Path, port: int, listener: NotifyListener
) -> None:
    daemon = Daemon(write_config(tmp_path, port),
                    env={"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "200000"})
    daemon.start(wait_ready=False)
    try:
        ready = listener.wait_for("READY")
        assert ready["READY"] == "1"
        assert "subnet" in ready["STATUS"]
        daemon.wait_for_event("server_ready", 5)  # READY=1 comes with the bound sockets

        daemon.signal(signal.SIGHUP)
        reloading = listener.wait_for("RELOADING")
        assert reloading["RELOADING"] == "1"
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert 0 <= now_usec - int(reloading["MONOTONIC_USEC"]) < 10_000_000
        assert listener.wait_for("READY")["READY"] == "1"
        daemon.wait_for_event("config_reloaded", 5)

        # WATCHDOG_USEC=200000: a ping every 0.1 s.
        listener.messages.clear()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            listener.receive(deadline - time.monotonic())
        pings = [m for m in listener.messages if m == {"WATCHDOG": "1"}]
        assert 5 <= len(pings) <= 15, listener.messages

        daemon.signal(signal.SIGTERM)
        assert listener.wait_for("STOPPING")["STOPPING"] == "1"
        assert daemon.process is not None and daemon.process.wait(10) == 0
    finally:
        daemon.stop()


def test_abstract_socket_and_a_rejected_reload_is_followed_by_ready(
    tmp_path: Path, port: int
) -> None:
    listener = NotifyListener(f"@dhcpd-test-{uuid.uuid4().hex}")
    config = write_config(tmp_path, port)
    daemon = Daemon(config, env={"NOTIFY_SOCKET": listener.address}).start()
    relay = Relay("127.0.0.2", port, "127.0.0.1")
    try:
        assert listener.wait_for("READY")["READY"] == "1"
        config.write_text("subnets: [{subnet: 127.0.0.0/8, pools: [{range: nonsense}]}]")
        daemon.signal(signal.SIGHUP)
        assert listener.wait_for("RELOADING")["RELOADING"] == "1"
        assert listener.wait_for("READY")["READY"] == "1"
        daemon.wait_for_event("reload_rejected", 5)
        assert dora(relay, 1) is not None  # still serving on the old configuration
        # No WATCHDOG_USEC: no pings.
        assert listener.receive(0.5) is None
        assert daemon.stop() == 0
        assert listener.wait_for("STOPPING")["STOPPING"] == "1"
    finally:
        relay.close()
        daemon.stop()
        listener.close()


def test_watchdog_pid_of_another_process_means_no_pings(
    tmp_path: Path, port: int, listener: NotifyListener
) -> None:
    daemon = Daemon(write_config(tmp_path, port), env={
        "NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "200000",
        "WATCHDOG_PID": str(os.getpid()),  # ours, not the daemon's
    }).start()
    try:
        assert listener.wait_for("READY")["READY"] == "1"
        assert listener.receive(0.6) is None
    finally:
        assert daemon.stop() == 0


def test_without_notify_socket_everything_is_a_no_op(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    assert notifier.ready("x") is False
    assert notifier.reloading() is False
    assert notifier.stopping() is False
    assert notifier.watchdog() is False


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval() is None
