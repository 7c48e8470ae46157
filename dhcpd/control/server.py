"""The control listeners: a Unix stream socket (and optionally TCP), one JSON object per line.

A connection may send any number of requests, each answered by one line. A
client cannot hold the server up: every line must arrive within READ_TIMEOUT,
be at most MAX_LINE bytes, and be read back within WRITE_TIMEOUT; at most
MAX_CONNECTIONS are served at once. On TCP every request must carry the
configured token (compared in constant time); a wrong one closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import os
import socket
import stat
from pathlib import Path

from pydantic import ValidationError

from dhcpd.config.models import ControlSettings
from dhcpd.errors import DhcpdError
from dhcpd.logsetup import get_logger

from .commands import Commands, describe
from .models import ControlRequest, ControlResponse

log = get_logger("dhcpd.control")

MAX_LINE = 64 * 1024  # bytes per request line
READ_TIMEOUT = 30.0  # seconds for a whole request line (an idle connection is closed)
WRITE_TIMEOUT = 10.0  # seconds for the client to take its response
MAX_CONNECTIONS = 32


class ControlError(DhcpdError):
    """The control socket cannot be set up (in use, not a socket, cannot bind)."""


class ControlServer:
    def __init__(self, commands: Commands, settings: ControlSettings) -> None:
        self.commands = commands
        self.settings = settings
        self.path = settings.socket
        self._unix: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._inode: int | None = None
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()

    # --- set-up and tear-down --------------------------------------------------

    def open(self) -> None:
        """Bind the listeners (synchronously, before the DHCP sockets); ControlError if not."""
        try:
            if self.path is not None:
                self._unix = _bind_unix(self.path, self.settings.socket_mode)
                self._inode = os.stat(self.path).st_ino
            tcp = self.settings.tcp
            if tcp is not None:
                self._tcp = _bind_tcp(str(tcp.address), tcp.port)
        except BaseException:
            self.close()
            raise

    async def serve(self) -> None:
        """Serve until cancelled (a task of the app's TaskGroup); then close everything."""
        try:
            if self._unix is not None:
                self._servers.append(await asyncio.start_unix_server(
                    functools.partial(self._connection, tcp=False), sock=self._unix,
                    limit=MAX_LINE,
                ))
            if self._tcp is not None:
                self._servers.append(await asyncio.start_server(
                    functools.partial(self._connection, tcp=True), sock=self._tcp,
                    limit=MAX_LINE,
                ))
            tcp = self.settings.tcp
            log.info("control_listening", socket=str(self.path) if self.path else None,
                     tcp=f"{tcp.address}:{tcp.port}" if tcp else None)
            await asyncio.Event().wait()
        finally:
            self.close()

    def close(self) -> None:
        """Stop listening, end the connections, remove our socket file (not a successor's)."""
        for server in self._servers:
            server.close()
        self._servers.clear()
        for sock in (self._unix, self._tcp):
            if sock is not None:
                sock.close()
        self._unix = self._tcp = None
        for task in list(self._connections):
            task.cancel()
        if self.path is not None and self._inode is not None:
            with contextlib.suppress(OSError):
                info = os.lstat(self.path)
                if stat.S_ISSOCK(info.st_mode) and info.st_ino == self._inode:
                    self.path.unlink()
            self._inode = None

    # --- one connection -----------------------------------------------------------

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tcp: bool
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            if len(self._connections) > MAX_CONNECTIONS:
                await _send(writer, ControlResponse.error("too many control connections"))
                return
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
                except TimeoutError:
                    return
                except ValueError:  # longer than the limit: cannot find the next request
                    await _send(writer, ControlResponse.error(
                        f"request too long (more than {MAX_LINE} bytes); closing"))
                    return
                if not line:
                    return
                if not line.strip():
                    continue
                response, keep_open = await self._answer(line, tcp)
                await _send(writer, response)
                if not keep_open:
                    return
        except (ConnectionError, TimeoutError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _answer(self, line: bytes, tcp: bool) -> tuple[ControlResponse, bool]:
        try:
            data = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            return ControlResponse.error(f"bad JSON: {exc}"), True
        if not isinstance(data, dict):
            return ControlResponse.error("a request is a JSON object: "
                                         '{"command": ..., "arguments": {...}}'), True
        if tcp and not self._authorised(data.get("token")):
            log.warning("control_unauthorised")
            return ControlResponse.error("unauthorised: missing or wrong token"), False
        try:
            request = ControlRequest.model_validate(data)
        except ValidationError as exc:
            return ControlResponse.error(f"bad request: {describe(exc)}"), True
        log.info("control_command", command=request.command, via="tcp" if tcp else "unix")
        return await self.commands.run(request), True

    def _authorised(self, token: object) -> bool:
        settings = self.settings.tcp
        if settings is None or not isinstance(token, str):
            return False
        return hmac.compare_digest(token.encode(), settings.token.encode())


async def _send(writer: asyncio.StreamWriter, response: ControlResponse) -> None:
    writer.write(response.line())
    await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)


def _bind_unix(path: Path, mode: int) -> socket.socket:
    _clear_stale(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # never reachable by others, even before the chmod
    try:
        sock.bind(str(path))
        os.chmod(path, mode)
        sock.listen(16)
    except OSError as exc:
        sock.close()
        raise ControlError(f"control socket {path}: cannot bind: {exc.strerror or exc}") from exc
    finally:
        os.umask(old_umask)
    sock.setblocking(False)
    return sock


def _clear_stale(path: Path) -> None:
    """Refuse a socket a live daemon answers on; remove one nobody listens on."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ControlError(f"control socket {path}: exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)
        log.warning("control_socket_stale_removed", socket=str(path))
        return
    except OSError as exc:
        raise ControlError(f"control socket {path}: cannot check it: {exc}") from exc
    finally:
        probe.close()
    raise ControlError(f"control socket {path} is in use by a running daemon; "
                       "stop it first or configure another control.socket")


def _bind_tcp(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(16)
    except OSError as exc:
        sock.close()
        raise ControlError(f"control TCP listener {address}:{port}: cannot bind: "
                           f"{exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock
