"""systemd's sd_notify protocol, spoken directly: one datagram to $NOTIFY_SOCKET.

No dependency: the protocol is newline-separated ``KEY=VALUE`` lines in one
AF_UNIX datagram; a socket name starting with ``@`` is in the abstract
namespace. Without NOTIFY_SOCKET (not started by systemd as Type=notify) every
call is a no-op. See sd_notify(3).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

from dhcpd.logsetup import get_logger

log = get_logger("dhcpd.service")


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._failed = False

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, **fields: object) -> bool:
        """Send ``KEY=value`` lines (``ready=1`` becomes ``READY=1``); False if not sent."""
        if not self.address:
            return False
        target = self.address
        if target.startswith("@"):
            target = "\0" + target[1:]
        payload = "\n".join(f"{key.upper()}={value}" for key, value in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)  # never stall the event loop on a full queue
                sock.connect(target)
                sock.sendall(payload.encode())
        except OSError as exc:
            if not self._failed:  # once: a missing socket would otherwise log every ping
                self._failed = True
                log.warning("notify_failed", socket=self.address, error=str(exc))
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send(ready=1, status=status)

    def reloading(self) -> bool:
        monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send(reloading=1, status="reloading the configuration",
                         monotonic_usec=monotonic_usec)

    def stopping(self) -> bool:
        return self.send(stopping=1, status="stopping: finishing the exchanges in flight")

    def watchdog(self) -> bool:
        return self.send(watchdog=1)


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of $WATCHDOG_USEC), or None when not asked.

    $WATCHDOG_PID, when set, must be our pid: the variables may have been
    inherited from a parent the watchdog is meant for.
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 2 / 1_000_000


async def watchdog_loop(notifier: Notifier, interval: float) -> None:
    """WATCHDOG=1 every `interval` seconds, from a task on the event loop: a stuck loop
    stops the pings and systemd restarts us."""
    while True:
        notifier.watchdog()
        await asyncio.sleep(interval)
