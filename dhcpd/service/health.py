"""The health socket: the daemon answers one JSON line to every connection.

Server side (`HealthServer`, run by the app when ``server.health_socket`` is
set): a Unix stream socket, mode 0660, answering
``{"status": "ok", "leases": N, "uptime": S}`` and closing. It is served by the
event loop itself, so an answer means the loop is running.

Client side: ``python -m dhcpd.service.health [--socket PATH | --config FILE]``
connects, reads the line and exits 0 if the daemon said ok, 1 otherwise (no
answer, refused, timeout, garbage). It is the container HEALTHCHECK.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import stat
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

DEFAULT_SOCKET = Path("/run/dhcpd/health.sock")
TIMEOUT = 5.0


class HealthServer:
    def __init__(self, path: Path, leases: Callable[[], int]) -> None:
        self.path = path
        self._leases = leases
        self._started = time.monotonic()
        self._server: asyncio.AbstractServer | None = None

    def status(self) -> dict[str, object]:
        return {"status": "ok", "leases": self._leases(),
                "uptime": round(time.monotonic() - self._started, 3)}

    async def start(self) -> None:
        """Bind (replacing a stale socket left by a killed daemon), mode 0660."""
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(self.path.lstat().st_mode):
                self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        old_umask = os.umask(0o117)  # created 0660, no window with wider rights
        try:
            self._server = await asyncio.start_unix_server(self._answer, path=str(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o660)

    def chown(self, uid: int, gid: int) -> None:
        os.chown(self.path, uid, gid)

    async def serve(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
            with contextlib.suppress(OSError):
                self.path.unlink()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(json.dumps(self.status()).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


def query(path: Path, timeout: float = TIMEOUT) -> dict[str, object]:
    """Ask the daemon; raises OSError or ValueError when it does not answer properly."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    answer = json.loads(data)
    if not isinstance(answer, dict):
        raise ValueError(f"not a JSON object: {data!r}")
    return answer


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dhcpd.service.health",
        description="Exit 0 if the daemon answers on its health socket, 1 otherwise.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--socket", type=Path, help=f"the socket (default {DEFAULT_SOCKET})")
    where.add_argument("--config", type=Path, help="read server.health_socket from this file")
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    args = parser.parse_args(argv)
    path: Path = args.socket or DEFAULT_SOCKET
    if args.config is not None:
        from dhcpd.config import load_config
        from dhcpd.errors import ConfigError

        try:
            configured = load_config(args.config).server.health_socket
        except ConfigError as exc:
            print(f"unhealthy: {exc}", file=sys.stderr)
            return 1
        if configured is None:
            print(f"unhealthy: {args.config} sets no server.health_socket", file=sys.stderr)
            return 1
        path = configured
    try:
        answer = query(path, args.timeout)
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {path}: {exc}", file=sys.stderr)
        return 1
    if answer.get("status") != "ok":
        print(f"unhealthy: {answer}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
