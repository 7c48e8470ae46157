"""What the daemon does as a service, in one object the app calls at each step.

- after binding: open the health socket, then drop privileges (``server.user``);
- ready / reloading / stopping: tell systemd (no-op without $NOTIFY_SOCKET);
- while serving: the watchdog pings and the health socket, as tasks of the
  app's TaskGroup.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from dhcpd.config import RuntimeConfig
from dhcpd.config.models import SqliteStoreSettings
from dhcpd.logsetup import get_logger

from .health import HealthServer
from .notify import Notifier, watchdog_interval, watchdog_loop
from .privileges import drop_privileges, effective_capabilities, resolve

log = get_logger("dhcpd.service")


def lease_files(config: RuntimeConfig) -> list[Path]:
    """The SQLite database and its companions (WAL mode: -wal, -shm)."""
    store = config.lease_store
    if not isinstance(store, SqliteStoreSettings):
        return []
    return [store.path, *(Path(f"{store.path}{suffix}") for suffix in ("-wal", "-shm"))]


class ServiceRuntime:
    def __init__(self, config: RuntimeConfig, lease_count: Callable[[], int]) -> None:
        self.config = config
        self.notifier = Notifier()
        socket_path = config.server.health_socket
        self.health = HealthServer(socket_path, lease_count) if socket_path else None

    async def start(self) -> None:
        """After the sockets are bound and the store is open: health socket, then the drop."""
        if self.health is not None:
            await self.health.start()
        server = self.config.server
        if server.user is None:
            return
        identity = resolve(server.user, server.group)
        if os.geteuid() != 0:
            if os.geteuid() != identity.uid:
                log.warning("privileges_not_dropped", reason="not started as root",
                            uid=os.geteuid(), user=identity.user)
            return
        own = lease_files(self.config)
        if self.health is not None:
            own.append(self.health.path)
        control_socket = self.config.source.control.socket  # bound before us (app.py)
        if control_socket is not None:
            own.append(control_socket)
        owned = drop_privileges(identity, own=own)
        log.info("privileges_dropped", user=identity.user, uid=os.getuid(),
                 group=identity.group, gid=os.getgid(), capabilities=effective_capabilities(),
                 chowned=[str(path) for path in owned])
        directory = lease_files(self.config)[:1]
        if directory and not os.access(directory[0].parent, os.W_OK | os.X_OK):
            log.warning("lease_directory_not_writable", directory=str(directory[0].parent),
                        user=identity.user,
                        detail="SQLite may need to create its -wal/-shm files there")

    def ready(self, status: str) -> None:
        self.notifier.ready(status)

    def reloading(self) -> None:
        self.notifier.reloading()

    def stopping(self) -> None:
        self.notifier.stopping()

    def create_tasks(self, group: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
        tasks = []
        interval = watchdog_interval()
        if interval is not None and self.notifier.enabled:
            tasks.append(group.create_task(watchdog_loop(self.notifier, interval),
                                           name="watchdog"))
        if self.health is not None:
            tasks.append(group.create_task(self.health.serve(), name="health"))
        return tasks

    def close(self) -> None:
        if self.health is not None:
            self.health.close()
