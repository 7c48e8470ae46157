"""The control API client and `dhcpd ctl`: one request per connection, blocking sockets.

Exit status of `dhcpd ctl`: 0 the daemon answered ok, 1 it answered with an
error, 2 it could not be reached (no socket, refused, no answer).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dhcpd.config import load_config
from dhcpd.errors import ConfigError

from .models import ControlResponse
from .render import render

DEFAULT_SOCKET = "dhcpd-control.sock"
SOCKET_ENV = "DHCPD_CONTROL_SOCKET"
TOKEN_ENV = "DHCPD_CONTROL_TOKEN"
MAX_RESPONSE = 64 * 1024 * 1024


class ControlUnreachable(Exception):
    """The daemon could not be reached, or did not answer."""


class ControlClient:
    """Talks to the control socket (or the TCP listener, with its token)."""

    def __init__(
        self,
        socket_path: str | Path | None = None,
        tcp: tuple[str, int] | None = None,
        token: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if (socket_path is None) == (tcp is None):
            raise ValueError("give either socket_path or tcp")
        self.socket_path = Path(socket_path) if socket_path is not None else None
        self.tcp = tcp
        self.token = token
        self.timeout = timeout

    @property
    def where(self) -> str:
        if self.tcp is not None:
            return f"{self.tcp[0]}:{self.tcp[1]}"
        return str(self.socket_path)

    def call(self, command: str, arguments: dict[str, Any] | None = None) -> ControlResponse:
        request: dict[str, Any] = {"command": command, "arguments": arguments or {}}
        if self.token is not None:
            request["token"] = self.token
        return self.send_line(json.dumps(request).encode() + b"\n")

    def send_line(self, line: bytes) -> ControlResponse:
        """Send raw bytes (one request line) and parse the one response line."""
        raw = self.exchange(line)
        try:
            return ControlResponse.model_validate_json(raw)
        except ValidationError as exc:
            raise ControlUnreachable(f"{self.where}: not a control API response: {exc}") from None

    def exchange(self, data: bytes) -> bytes:
        """Send `data`, return the first line the daemon answers (without the newline)."""
        try:
            with self._connect() as sock:
                sock.sendall(data)
                buffer = b""
                while b"\n" not in buffer:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    buffer += chunk
                    if len(buffer) > MAX_RESPONSE:
                        raise ControlUnreachable(f"{self.where}: response too long")
        except TimeoutError:
            raise ControlUnreachable(f"{self.where}: no answer within {self.timeout}s") from None
        except OSError as exc:
            raise ControlUnreachable(
                f"{self.where}: {exc.strerror or exc}"
            ) from None
        if b"\n" not in buffer:
            raise ControlUnreachable(f"{self.where}: the daemon closed the connection "
                                     "without answering")
        return buffer.split(b"\n", 1)[0]

    def _connect(self) -> socket.socket:
        if self.tcp is not None:
            return socket.create_connection(self.tcp, timeout=self.timeout)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.socket_path))
        except BaseException:
            sock.close()
            raise
        return sock


# --- dhcpd ctl ----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dhcpd ctl", description="Talk to a running dhcpd over its control socket.",
        epilog="Exit status: 0 ok, 1 the daemon answered with an error, 2 it could not "
               "be reached.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--socket", "-s", type=Path,
                       help=f"the control socket (default: ${SOCKET_ENV}, else {DEFAULT_SOCKET})")
    where.add_argument("--config", "-c", type=Path,
                       help="take control.socket (or control.tcp) from this configuration")
    where.add_argument("--tcp", metavar="HOST:PORT",
                       help=f"the TCP listener; the token is read from ${TOKEN_ENV}")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--json", action="store_true", default=False,
                        help="print the raw JSON response")
    # --json is also accepted after the command.
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                           help="print the raw JSON response")
    top = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    top.add_parser("status", parents=[json_flag],
                   help="version, uptime, paused or not, subnets, lease counts")

    leases = top.add_parser("leases", parents=[json_flag], help="leases list")
    leases_sub = leases.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = leases_sub.add_parser("list", parents=[json_flag], help="list lease records")
    listing.add_argument("--subnet", type=int, help="only this subnet id")
    listing.add_argument("--state", choices=["active", "released", "expired", "declined"])
    listing.add_argument("--limit", type=int, default=1000, help="at most this many (1000)")

    lease = top.add_parser("lease", parents=[json_flag], help="lease get | add | delete")
    lease_sub = lease.add_subparsers(dest="action", required=True, metavar="ACTION")
    get = lease_sub.add_parser("get", parents=[json_flag],
                               help="one lease, by address, --hw-address or --client-id")
    get.add_argument("address", nargs="?")
    get.add_argument("--hw-address")
    get.add_argument("--client-id", help="hex, e.g. 01:02:00:00:00:00:01")
    add = lease_sub.add_parser("add", parents=[json_flag], help="record a lease by hand")
    add.add_argument("address")
    add.add_argument("hw_address", metavar="HW_ADDRESS")
    add.add_argument("--client-id", help="hex, e.g. 01:02:00:00:00:00:01")
    add.add_argument("--lease-time", type=int, help="seconds (default: the subnet's)")
    add.add_argument("--hostname")
    delete = lease_sub.add_parser("delete", parents=[json_flag], help="delete a lease record")
    delete.add_argument("address")

    top.add_parser("pause", parents=[json_flag], help="stop answering (packets are counted)")
    top.add_parser("continue", parents=[json_flag], help="answer again after a pause")
    top.add_parser("reload", parents=[json_flag],
                   help="re-read the configuration (as SIGHUP); shows why it was rejected")
    top.add_parser("stats", aliases=["statistics"], parents=[json_flag],
                   help="packet counters, store commits, pool usage")
    call = top.add_parser("call", parents=[json_flag], help="send any command (for scripts)")
    call.add_argument("name", metavar="NAME")
    call.add_argument("arguments", nargs="?", default="{}", metavar="JSON",
                      help="the arguments object, e.g. '{\"address\": \"192.0.2.10\"}'")
    return parser


def _request(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The control command and arguments for the parsed command line."""
    command: str = args.command
    if command == "leases":
        listing = {"subnet": args.subnet, "state": args.state, "limit": args.limit}
        return "leases-list", {k: v for k, v in listing.items() if v is not None}
    if command == "lease":
        if args.action == "get":
            found = {"address": args.address, "hw_address": args.hw_address,
                     "client_id": args.client_id}
            return "lease-get", {k: v for k, v in found.items() if v is not None}
        if args.action == "add":
            added = {"address": args.address, "hw_address": args.hw_address,
                     "client_id": args.client_id, "lease_time": args.lease_time,
                     "hostname": args.hostname}
            return "lease-add", {k: v for k, v in added.items() if v is not None}
        return "lease-delete", {"address": args.address}
    if command in ("stats", "statistics"):
        return "statistics", {}
    if command == "call":
        arguments = json.loads(args.arguments)
        if not isinstance(arguments, dict):
            raise ValueError("the arguments must be a JSON object")
        return args.name, arguments
    return command, {}


def client_for(args: argparse.Namespace) -> ControlClient:
    """Where to connect: --socket, --tcp, --config, $DHCPD_CONTROL_SOCKET, the default."""
    token = os.environ.get(TOKEN_ENV)
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            raise ControlUnreachable(f"--tcp wants HOST:PORT, not {args.tcp!r}")
        return ControlClient(tcp=(host, int(port)), token=token, timeout=args.timeout)
    if args.config is not None:
        try:
            control = load_config(args.config).control
        except ConfigError as exc:
            raise ControlUnreachable(f"{args.config}: cannot read the configuration: "
                                     + "; ".join(exc.errors)) from None
        if control.socket is not None:
            return ControlClient(control.socket, timeout=args.timeout)
        if control.tcp is not None:
            return ControlClient(tcp=(str(control.tcp.address), control.tcp.port),
                                 token=control.tcp.token, timeout=args.timeout)
        raise ControlUnreachable(f"{args.config}: no control socket configured "
                                 "(control.socket)")
    path = args.socket or os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET
    return ControlClient(path, timeout=args.timeout)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        command, arguments = _request(args)
    except ValueError as exc:
        print(f"dhcpd ctl: {exc}", file=sys.stderr)
        return 1
    try:
        client = client_for(args)
        response = client.call(command, arguments)
    except ControlUnreachable as exc:
        print(f"dhcpd ctl: the daemon cannot be reached: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(response.model_dump_json(indent=2))
    else:
        out = sys.stdout if response.result == "ok" else sys.stderr
        for line in render(command, response):
            print(line, file=out)
    return 0 if response.result == "ok" else 1
