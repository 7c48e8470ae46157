"""Network-namespace harness for integration tests and benchmarks.

Everything here runs real DHCP clients (busybox udhcpc, ISC dhclient, Kea's perfdhcp)
and, optionally, a reference server (Kea) inside network namespaces created for the
purpose. Nothing ever touches the host's own interfaces:

* namespaces are named ``<prefix>-<pid>-<counter>-s|c`` so parallel runs never collide;
* the veth pair is created directly inside the two namespaces;
* IPv6 is turned off in both namespaces;
* every process started through :class:`Namespace` is stopped by its PID on close, and
  so is any process still found inside a namespace (``ip netns pids``) before deletion.

Only the documentation / benchmarking ranges are used (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 198.18.0.0/15).
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

IP = shutil.which("ip") or "/usr/sbin/ip"
# Clients get a minimal environment so that their scripts record only what they set.
CLIENT_ENV: Mapping[str, str] = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
DEFAULT_TIMEOUT = 30.0

_counter = itertools.count()
_counter_lock = threading.Lock()


def _next_id() -> int:
    with _counter_lock:
        return next(_counter)


class NetnsError(RuntimeError):
    """A namespace operation failed."""


# --------------------------------------------------------------------------- processes


def stop_process(
    proc: subprocess.Popen[Any],
    timeout: float = 5.0,
    sig: int = signal.SIGTERM,
) -> int | None:
    """Stop ``proc`` by its PID: send ``sig`` (SIGTERM), wait ``timeout``, then SIGKILL.

    Returns the exit code (None only if the process could not be reaped).
    """
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def kill_pid(pid: int, timeout: float = 5.0) -> None:
    """Stop a process that is not our child, by PID: SIGTERM, poll, then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- namespace


class Namespace:
    """A network namespace this process created (``ip netns add``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._procs: list[subprocess.Popen[Any]] = []
        self._deleted = False

    def __repr__(self) -> str:
        return f"Namespace({self.name!r})"

    @classmethod
    def create(cls, name: str, disable_ipv6: bool = True) -> Namespace:
        """Create the namespace, bring ``lo`` up and (by default) turn IPv6 off."""
        _ip("netns", "add", name)
        ns = cls(name)
        try:
            ns.ip("link", "set", "lo", "up")
            if disable_ipv6:
                ns.run(
                    [
                        "sysctl",
                        "-q",
                        "-w",
                        "net.ipv6.conf.all.disable_ipv6=1",
                        "net.ipv6.conf.default.disable_ipv6=1",
                    ]
                )
        except BaseException:
            ns.delete()
            raise
        return ns

    def exec_prefix(self) -> list[str]:
        """The argv prefix that runs a command inside this namespace."""
        return [IP, "netns", "exec", self.name]

    def run(
        self,
        args: Sequence[str],
        check: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` inside the namespace and wait for it (text mode, output captured)."""
        argv = [*self.exec_prefix(), *args]
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            env=dict(env) if env is not None else None,
            check=False,
        )
        if check and proc.returncode != 0:
            raise NetnsError(
                f"{shlex.join(argv)} exited {proc.returncode}: "
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``ip -n NS ARGS``."""
        return _ip("-n", self.name, *args, check=check)

    def popen(self, args: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start ``args`` inside the namespace; the process is stopped on :meth:`close`.

        ``ip netns exec`` execs the command, so ``proc.pid`` is the command's own PID.
        Keyword arguments go to :class:`subprocess.Popen` (stdin defaults to DEVNULL).
        """
        kw.setdefault("stdin", subprocess.DEVNULL)
        proc: subprocess.Popen[Any] = subprocess.Popen([*self.exec_prefix(), *args], **kw)
        self._procs.append(proc)
        return proc

    def stop(
        self, proc: subprocess.Popen[Any], timeout: float = 5.0, sig: int = signal.SIGTERM
    ) -> int | None:
        """Stop a process started with :meth:`popen` (by PID; SIGTERM, wait, SIGKILL)."""
        rc = stop_process(proc, timeout=timeout, sig=sig)
        if proc in self._procs and proc.returncode is not None:
            self._procs.remove(proc)
        return rc

    def pids(self) -> list[int]:
        """PIDs of every process currently inside the namespace."""
        res = _ip("netns", "pids", self.name, check=False)
        return [int(tok) for tok in res.stdout.split() if tok.isdigit()]

    def kill_all(self, timeout: float = 5.0) -> None:
        """Stop every process this object started, then any other process left inside."""
        for proc in list(self._procs):
            stop_process(proc, timeout=timeout)
            self._procs.remove(proc)
        for pid in self.pids():
            if pid != os.getpid():
                kill_pid(pid, timeout=timeout)

    def delete(self) -> None:
        """Stop every process and delete the namespace (idempotent)."""
        if self._deleted:
            return
        self.kill_all()
        _ip("netns", "delete", self.name, check=False)
        self._deleted = True

    close = delete

    def wait_udp_listening(self, port: int, timeout: float = 10.0) -> None:
        """Poll ``ss`` until some UDP socket in the namespace is bound to ``port``."""
        deadline = time.monotonic() + timeout
        pattern = re.compile(rf":{port}\s")
        while True:
            out = self.run(["ss", "-H", "-u", "-a", "-n"], check=False).stdout
            if any(pattern.search(line + " ") for line in out.splitlines()):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on UDP port {port} in {self.name}")
            time.sleep(0.1)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [IP, *args], capture_output=True, text=True, timeout=DEFAULT_TIMEOUT, check=False
    )
    if check and proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc


_available: str | None = None
_available_checked = False


def netns_available() -> str | None:
    """None when we are root and ``ip netns`` works here, else the reason why not."""
    global _available, _available_checked
    if _available_checked:
        return _available
    reason: str | None = None
    if os.name != "posix" or not hasattr(os, "geteuid"):
        reason = "network namespaces need Linux"
    elif os.geteuid() != 0:
        reason = "network namespaces need root (euid is not 0)"
    elif not Path(IP).exists():
        reason = "iproute2 'ip' not found"
    else:
        name = f"dhcpd-probe-{os.getpid()}-{_next_id()}"
        try:
            ns = Namespace.create(name, disable_ipv6=False)
            try:
                ns.run(["true"], timeout=10)
            finally:
                ns.delete()
        except (OSError, NetnsError, subprocess.TimeoutExpired) as exc:
            reason = f"'ip netns' does not work here: {exc}"
    _available, _available_checked = reason, True
    return reason


def missing_tools(*names: str) -> list[str]:
    """The given executables that are not on PATH (also looks in /usr/sbin and /sbin)."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [n for n in names if shutil.which(n, path=path) is None]


# --------------------------------------------------------------------------- veth pair


def _local_mac(seed: int) -> str:
    """A locally administered unicast MAC (02:...) derived from ``seed``."""
    b = seed.to_bytes(5, "big", signed=False)
    return "02:" + ":".join(f"{x:02x}" for x in b)


@dataclass
class VethLink:
    """Two namespaces joined by a veth pair. Use as a context manager or call close()."""

    server_ns: Namespace
    client_ns: Namespace
    server_if: str
    client_if: str
    client_mac: str
    server_addr: str | None
    client_addr: str | None
    tmpdir: Path
    _closed: bool = field(default=False, repr=False)

    def parts(self) -> tuple[Namespace, Namespace, str, str]:
        """``(server_ns, client_ns, server_if, client_if)``."""
        return self.server_ns, self.client_ns, self.server_if, self.client_if

    @property
    def server_ip(self) -> str | None:
        """The server end's address without prefix length."""
        return self.server_addr.split("/")[0] if self.server_addr else None

    def close(self) -> None:
        """Stop every process in both namespaces (by PID) and delete them."""
        if self._closed:
            return
        self._closed = True
        try:
            self.client_ns.delete()
        finally:
            try:
                self.server_ns.delete()
            finally:
                shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> VethLink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def make_pair(
    prefix: str = "dhcpd",
    server_addr: str | None = "192.0.2.1/24",
    client_addr: str | Sequence[str] | None = None,
    client_mac: str | None = None,
    server_if: str = "srv0",
    client_if: str = "cli0",
) -> VethLink:
    """Create two fresh namespaces joined by a veth pair and return the :class:`VethLink`.

    The server end gets ``server_addr`` (None for none), the client end gets
    ``client_addr`` (one or several CIDR strings; none by default) and a locally
    administered MAC (``client_mac`` or a generated ``02:...``). Both ends and ``lo`` are
    up and IPv6 is off. Interface names are per namespace, so they need not be unique.
    """
    uid = _next_id()
    base = f"{prefix}-{os.getpid()}-{uid}"
    server_ns = Namespace.create(f"{base}-s")
    try:
        client_ns = Namespace.create(f"{base}-c")
    except BaseException:
        server_ns.delete()
        raise
    mac = client_mac or _local_mac(((os.getpid() & 0xFFFFFF) << 16) | (uid & 0xFFFF))
    link = VethLink(
        server_ns=server_ns,
        client_ns=client_ns,
        server_if=server_if,
        client_if=client_if,
        client_mac=mac,
        server_addr=server_addr,
        client_addr=None,
        tmpdir=Path(tempfile.mkdtemp(prefix=f"{base}-")),
    )
    try:
        _ip(
            "link", "add", server_if, "netns", server_ns.name,
            "type", "veth", "peer", "name", client_if, "netns", client_ns.name,
        )  # fmt: skip
        client_ns.ip("link", "set", "dev", client_if, "address", mac)
        if server_addr:
            server_ns.ip("addr", "add", server_addr, "dev", server_if)
        addrs = [client_addr] if isinstance(client_addr, str) else list(client_addr or [])
        for addr in addrs:
            client_ns.ip("addr", "add", addr, "dev", client_if)
        link.client_addr = addrs[0] if addrs else None
        server_ns.ip("link", "set", "dev", server_if, "up")
        client_ns.ip("link", "set", "dev", client_if, "up")
    except BaseException:
        link.close()
        raise
    return link


RELAY_NET = "198.18.0.0/15"
RELAY_ADDR = "198.18.0.2"


def make_relay_pair(
    prefix: str = "dhcpd-relay",
    server_addr: str = "192.0.2.1/24",
    client_link_addr: str = "192.0.2.2/24",
    relay_addr: str = RELAY_ADDR + "/16",
    routed_net: str = RELAY_NET,
) -> VethLink:
    """The perfdhcp layout: the client end holds ``client_link_addr`` and ``relay_addr``
    (perfdhcp's giaddr), the server routes ``routed_net`` via ``client_link_addr``."""
    link = make_pair(prefix, server_addr=server_addr, client_addr=[client_link_addr, relay_addr])
    try:
        via = client_link_addr.split("/")[0]
        link.server_ns.ip("route", "add", routed_net, "via", via, "dev", link.server_if)
    except BaseException:
        link.close()
        raise
    return link


@contextlib.contextmanager
def veth_pair(prefix: str = "dhcpd", **kw: Any) -> Iterator[VethLink]:
    """Context-manager form of :func:`make_pair`."""
    link = make_pair(prefix, **kw)
    try:
        yield link
    finally:
        link.close()


# --------------------------------------------------------------------------- leases


@dataclass(frozen=True)
class Lease:
    """What a real client got (fields None when the client did not report them)."""

    address: str | None
    server_id: str | None
    lease_time: int | None
    subnet_mask: str | None
    routers: tuple[str, ...] = ()
    reason: str = ""
    env: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)


def _int_or_none(s: str | None) -> int | None:
    try:
        return int(s) if s not in (None, "") else None
    except ValueError:
        return None


def _parse_records(text: str) -> list[dict[str, str]]:
    """Records are ``KEY=VALUE`` lines (values with newlines escaped), ended by ``--END--``."""
    records: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    for line in text.splitlines():
        if line == "--END--":
            records.append(cur)
            cur = {}
        elif "=" in line:
            k, v = line.split("=", 1)
            cur[k] = v
    return records


# A script that appends one record per invocation: the reason, then the environment.
_RECORD_SNIPPET = r"""
{{
  echo "REASON={reason}"
  env | grep -E '^[A-Za-z_][A-Za-z0-9_]*=' | grep -vE '^(PATH|PWD|SHLVL|_|OLDPWD)='
  echo "--END--"
}} >> "{log}"
"""

_UDHCPC_SCRIPT = """#!/bin/sh
# written by tests/integration/netns.py: record each udhcpc event
{record}
if [ "{configure}" = 1 ]; then
  case "$1" in
    bound|renew)
      if [ -n "$mask" ]; then pfx="$mask"; else pfx=32; fi
      ip addr add "$ip/$pfx" dev "$interface" 2>/dev/null || true ;;
  esac
fi
exit 0
"""


def udhcpc_lease(
    ns: Namespace,
    ifname: str,
    timeout: float = 30.0,
    request_addr: str | None = None,
    release: bool = False,
    client_id: str | None = None,
    no_client_id: bool = False,
    broadcast: bool = False,
    hostname: str | None = None,
    configure: bool | None = None,
    extra_args: Sequence[str] = (),
    workdir: str | os.PathLike[str] | None = None,
) -> Lease:
    """Run busybox ``udhcpc`` once in ``ns`` on ``ifname`` and return the lease it bound.

    ``request_addr`` -> ``-r ADDR``; ``release`` -> ``-R`` (DHCPRELEASE on exit: udhcpc
    runs without ``-q`` and gets SIGTERM once bound; the script also puts the address
    on the interface so the unicast release can be sent); ``client_id`` (hex, e.g.
    ``"01020000000001"``) -> ``-x 0x3d:HEX``;
    ``no_client_id`` -> ``-C``; ``broadcast`` -> ``-B``; ``hostname`` -> ``-x hostname:``.
    Raises :class:`NetnsError` if no lease was obtained.
    """
    configure = release if configure is None else configure
    tmp = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="udhcpc-"))
    try:
        log = tmp / "udhcpc-events.log"
        script = tmp / "udhcpc-script.sh"
        record = _RECORD_SNIPPET.format(reason="$1", log=log)
        script.write_text(_UDHCPC_SCRIPT.format(record=record, configure=int(configure)))
        script.chmod(0o755)
        # busybox 1.35 quits on -q before it enters BOUND, so "-q -R" sends no release.
        # With release=True run without -q and end it with SIGTERM once bound: udhcpc
        # then releases (-R) from the BOUND state.
        args = ["udhcpc", "-i", ifname, "-n", "-f", "-t", "5", "-T", "3", "-s", str(script)]
        if not release:
            args.append("-q")
        if request_addr:
            args += ["-r", request_addr]
        if release:
            args.append("-R")
        if no_client_id:
            args.append("-C")
        if client_id:
            args += ["-x", f"0x3d:{client_id}"]
        if broadcast:
            args.append("-B")
        if hostname:
            args += ["-x", f"hostname:{hostname}"]
        args += list(extra_args)
        outpath = tmp / "udhcpc.out"
        with outpath.open("wb") as outf:
            proc = ns.popen(args, stdout=outf, stderr=subprocess.STDOUT, env=CLIENT_ENV)
            deadline = time.monotonic() + timeout
            try:
                while proc.poll() is None:
                    if (
                        release
                        and log.exists()
                        and any(e.get("REASON") == "bound" for e in _parse_records(log.read_text()))
                    ):
                        ns.stop(proc)  # SIGTERM -> DHCPRELEASE, then exit
                        break
                    if time.monotonic() > deadline:
                        raise NetnsError(
                            f"udhcpc timed out after {timeout}s: {outpath.read_text()}"
                        )
                    time.sleep(0.05)
            finally:
                ns.stop(proc)
        out = outpath.read_text(errors="replace")
        events = _parse_records(log.read_text()) if log.exists() else []
        bound = [e for e in events if e.get("REASON") in ("bound", "renew")]
        if not bound or (proc.returncode != 0 and not release):
            raise NetnsError(f"udhcpc got no lease (exit {proc.returncode}): {out}")
        env = bound[-1]
        return Lease(
            address=env.get("ip"),
            server_id=env.get("serverid"),
            lease_time=_int_or_none(env.get("lease")),
            subnet_mask=env.get("subnet"),
            routers=tuple(env.get("router", "").split()),
            reason=env.get("REASON", ""),
            env=env,
        )
    finally:
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- dhclient

_DHCLIENT_SCRIPT = """#!/bin/sh
# written by tests/integration/netns.py: record each dhclient-script invocation
{record}
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    if [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ]; then
      ip addr del "$old_ip_address/${{old_subnet_mask:-32}}" dev "$interface" 2>/dev/null
    fi
    ip addr add "$new_ip_address/${{new_subnet_mask:-32}}" dev "$interface" 2>/dev/null \
      || true ;;
  EXPIRE|FAIL|RELEASE|STOP)
    if [ -n "$old_ip_address" ]; then
      ip addr del "$old_ip_address/${{old_subnet_mask:-32}}" dev "$interface" 2>/dev/null
    fi ;;
esac
exit 0
"""

_DHCLIENT_CONF = """# written by tests/integration/netns.py
timeout 30;
retry 5;
initial-interval 1;
request subnet-mask, broadcast-address, routers, domain-name-servers,
        dhcp-lease-time, dhcp-server-identifier, dhcp-renewal-time, dhcp-rebinding-time;
{extra}
"""


@dataclass(frozen=True)
class DhclientEvent:
    """One dhclient-script invocation."""

    reason: str
    address: str | None
    server_id: str | None
    lease_time: int | None
    subnet_mask: str | None
    routers: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    index: int = 0

    def lease(self) -> Lease:
        return Lease(
            address=self.address,
            server_id=self.server_id,
            lease_time=self.lease_time,
            subnet_mask=self.subnet_mask,
            routers=self.routers,
            reason=self.reason,
            env=self.env,
        )


BOUND_REASONS = frozenset({"BOUND", "RENEW", "REBIND", "REBOOT"})


class _OwnedProcess:
    """A process of ours in a namespace, with its log file and work folder.

    Subclasses set ns, proc, dir, _own_dir and _logf and define start() and stop();
    this gives them close() and the context-manager protocol.
    """

    ns: Namespace
    proc: subprocess.Popen[Any] | None
    dir: Path
    _own_dir: bool
    _logf: Any

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def _stop_process(self, forget: bool) -> None:
        if self.proc is not None:
            self.ns.stop(self.proc)
            if forget:
                self.proc = None
        if self._logf is not None:
            self._logf.close()
            self._logf = None

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start() if self.proc is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Dhclient(_OwnedProcess):
    """ISC dhclient in the foreground (``-d -4``) with private files, inside ``ns``.

    The ``-sf`` script records every invocation and, on BOUND/RENEW/REBIND/REBOOT, puts
    the leased address on the interface so unicast renewals and the release can be sent.
    dhclient writes its log to stderr (and syslog); it is captured in ``self.log_path``.
    """

    def __init__(
        self,
        ns: Namespace,
        ifname: str,
        workdir: str | os.PathLike[str] | None = None,
        extra_conf: str = "",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.ns = ns
        self.ifname = ifname
        self._own_dir = workdir is None
        self.dir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="dhcl-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cf = self.dir / "dhclient.conf"
        self.lf = self.dir / "dhclient.leases"
        self.pf = self.dir / "dhclient.pid"
        self.sf = self.dir / "dhclient-script.sh"
        self.events_path = self.dir / "dhclient-events.log"
        self.log_path = self.dir / "dhclient.stderr"
        self.extra_args = list(extra_args)
        self.cf.write_text(_DHCLIENT_CONF.format(extra=extra_conf))
        self.sf.write_text(
            _DHCLIENT_SCRIPT.format(
                record=_RECORD_SNIPPET.format(reason="$reason", log=self.events_path)
            )
        )
        self.sf.chmod(0o755)
        self.proc: subprocess.Popen[Any] | None = None
        self._logf: Any = None
        self._consumed = 0

    def _files(self) -> list[str]:
        return ["-cf", str(self.cf), "-lf", str(self.lf), "-pf", str(self.pf), "-sf", str(self.sf)]

    def start(self) -> Dhclient:
        """Start ``dhclient -d -4 ...`` (foreground; it does not fork with -d)."""
        if self.proc is not None:
            raise NetnsError("dhclient already started")
        self._logf = self.log_path.open("ab")
        self.proc = self.ns.popen(
            ["dhclient", "-d", "-4", *self._files(), *self.extra_args, self.ifname],
            stdout=self._logf,
            stderr=subprocess.STDOUT,
            env=CLIENT_ENV,
        )
        return self

    def events(self) -> list[DhclientEvent]:
        """Every event recorded so far, oldest first."""
        if not self.events_path.exists():
            return []
        out = []
        for i, env in enumerate(_parse_records(self.events_path.read_text())):
            out.append(
                DhclientEvent(
                    reason=env.get("REASON", ""),
                    address=env.get("new_ip_address"),
                    server_id=env.get("new_dhcp_server_identifier"),
                    lease_time=_int_or_none(env.get("new_dhcp_lease_time")),
                    subnet_mask=env.get("new_subnet_mask"),
                    routers=tuple(env.get("new_routers", "").split()),
                    env=env,
                    index=i,
                )
            )
        return out

    def wait_for(
        self, reasons: Iterable[str] | str = BOUND_REASONS, timeout: float = 30.0
    ) -> DhclientEvent:
        """Wait for the next not yet returned event whose reason is in ``reasons``."""
        wanted = {reasons} if isinstance(reasons, str) else set(reasons)
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events()[self._consumed :]:
                if ev.reason in wanted:
                    self._consumed = ev.index + 1
                    return ev
            if self.proc is not None and self.proc.poll() is not None:
                # one last look: the script may have run just before exit
                if not any(e.reason in wanted for e in self.events()[self._consumed :]):
                    raise NetnsError(
                        f"dhclient exited {self.proc.returncode} before {sorted(wanted)}; "
                        f"events={[e.reason for e in self.events()]}; log:\n{self.log()}"
                    )
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no dhclient event in {sorted(wanted)} within {timeout}s; "
                    f"events={[e.reason for e in self.events()]}; log:\n{self.log()}"
                )
            time.sleep(0.1)

    def log(self) -> str:
        """What dhclient printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def release(self, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        """``dhclient -r`` with the same files: sends DHCPRELEASE and stops the instance."""
        res = self.ns.run(
            ["dhclient", "-r", "-4", *self._files(), self.ifname],
            check=False,
            timeout=timeout,
            env=CLIENT_ENV,
        )
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        self.stop()
        return res

    def stop(self) -> None:
        """Stop the running dhclient by PID (no release)."""
        self._stop_process(forget=False)


# --------------------------------------------------------------------------- perfdhcp


@dataclass(frozen=True)
class PerfdhcpResult:
    """Counts parsed from perfdhcp's report."""

    discover_sent: int
    offer_received: int
    request_sent: int
    ack_received: int
    do_drops: int
    ra_drops: int
    returncode: int
    output: str = field(repr=False, compare=False)

    @property
    def incomplete(self) -> int:
        """Exchanges started (DISCOVERs sent) that did not end with an ACK."""
        return max(0, self.discover_sent - self.ack_received)

    @property
    def incomplete_pct(self) -> float:
        return 100.0 * self.incomplete / self.discover_sent if self.discover_sent else 100.0


_STATS_RE = re.compile(r"\*\*\*Statistics for: (\S+)\*\*\*(.*?)(?=\*\*\*|\Z)", re.S)


def parse_perfdhcp(output: str, returncode: int = 0) -> PerfdhcpResult:
    """Parse perfdhcp -4 output (DISCOVER-OFFER and REQUEST-ACK sections)."""
    sections: dict[str, dict[str, int]] = {}
    for name, body in _STATS_RE.findall(output):
        vals: dict[str, int] = {}
        for key in ("sent packets", "received packets", "drops"):
            m = re.search(rf"^{key}:\s*(\d+)", body, re.M)
            if m:
                vals[key] = int(m.group(1))
        sections[name] = vals
    do = sections.get("DISCOVER-OFFER", {})
    ra = sections.get("REQUEST-ACK", {})
    return PerfdhcpResult(
        discover_sent=do.get("sent packets", 0),
        offer_received=do.get("received packets", 0),
        request_sent=ra.get("sent packets", 0),
        ack_received=ra.get("received packets", 0),
        do_drops=do.get("drops", 0),
        ra_drops=ra.get("drops", 0),
        returncode=returncode,
        output=output,
    )


def perfdhcp_exchange(
    ns: Namespace,
    local_addr: str,
    server_addr: str,
    count: int = 10,
    rate: int = 10,
    clients: int | None = None,
    exit_wait_us: int = 1_000_000,
    timeout: float = 60.0,
    extra_args: Sequence[str] = (),
) -> PerfdhcpResult:
    """Run ``count`` relayed DORA exchanges with perfdhcp from ``local_addr`` (its giaddr).

    perfdhcp acts as a relay agent: it binds ``local_addr``:67 and expects replies
    unicast there, so ``local_addr`` must be on an interface in ``ns`` and the server
    must route back to it.
    """
    args = [
        "perfdhcp", "-4", "-l", local_addr, "-r", str(rate), "-n", str(count),
        "-R", str(clients or count), "-W", str(exit_wait_us), *extra_args, server_addr,
    ]  # fmt: skip
    res = ns.run(args, check=False, timeout=timeout)
    if res.returncode not in (0, 3):  # 3 = some packets dropped
        raise NetnsError(f"perfdhcp exited {res.returncode}: {res.stderr}{res.stdout}")
    return parse_perfdhcp(res.stdout + res.stderr, res.returncode)


# --------------------------------------------------------------------------- capture


class Capture(_OwnedProcess):
    """tshark capture in a namespace; read decoded fields after :meth:`stop`.

    >>> with Capture(ns, "srv0", "udp port 67 or udp port 68") as cap:
    ...     ...
    >>> cap.fields(["ip.dst", "udp.dstport", "dhcp.option.dhcp"])
    """

    def __init__(self, ns: Namespace, ifname: str, bpf: str = "udp", workdir: Path | None = None):
        self.ns = ns
        self.ifname = ifname
        self.bpf = bpf
        self._own_dir = workdir is None
        self.dir = workdir if workdir is not None else Path(tempfile.mkdtemp(prefix="cap-"))
        if self._own_dir:  # removed when the object goes away (fields() needs it after stop)
            weakref.finalize(self, shutil.rmtree, str(self.dir), True)
        self.pcap = self.dir / f"cap-{_next_id()}.pcap"
        self.proc: subprocess.Popen[Any] | None = None

    def start(self, timeout: float = 15.0) -> Self:
        errpath = self.dir / "tshark.stderr"
        self._err = errpath.open("wb")
        self.proc = self.ns.popen(
            ["tshark", "-q", "-n", "-i", self.ifname, "-f", self.bpf, "-w", str(self.pcap)],
            stdout=subprocess.DEVNULL,
            stderr=self._err,
        )
        deadline = time.monotonic() + timeout
        while "Capturing on" not in errpath.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise NetnsError(f"tshark did not start: {errpath.read_text(errors='replace')}")
            time.sleep(0.05)
        time.sleep(0.2)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            time.sleep(0.3)  # let the last packets be written
            self.ns.stop(self.proc, sig=signal.SIGINT)
            self.proc = None
            self._err.close()

    def fields(self, names: Sequence[str], display_filter: str = "") -> list[list[str]]:
        """Decoded fields per packet (``tshark -r PCAP -T fields -e ...``)."""
        args = ["tshark", "-n", "-r", str(self.pcap), "-T", "fields", "-E", "separator=\t"]
        if display_filter:
            args += ["-Y", display_filter]
        for n in names:
            args += ["-e", n]
        res = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        if res.returncode != 0:
            raise NetnsError(f"{shlex.join(args)} exited {res.returncode}: {res.stderr.strip()}")
        return [line.split("\t") for line in res.stdout.splitlines() if line.strip()]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()  # not close(): fields() reads the capture file afterwards


# --------------------------------------------------------------------------- Kea


def make_kea_config(
    interface: str,
    subnet: str = "192.0.2.0/24",
    pool: str = "192.0.2.100-192.0.2.200",
    valid_lifetime: int = 20,
    renew_timer: int | None = 5,
    rebind_timer: int | None = 15,
    routers: Sequence[str] = (),
    lease_file: str | os.PathLike[str] | None = None,
    severity: str = "WARN",
    socket_type: str = "raw",
    extra_subnets: Sequence[Mapping[str, Any]] = (),
    threads: int | None = None,
) -> dict[str, Any]:
    """A kea-dhcp4 configuration (as a dict; dump with ``json.dumps``).

    memfile store, not persisted unless ``lease_file`` is given; loggers to stderr at
    ``severity``. ``threads`` set -> multi-threading on with that many threads.
    """
    ipaddress.ip_network(subnet)  # validate
    sub: dict[str, Any] = {"id": 1, "subnet": subnet, "pools": [{"pool": pool}]}
    if routers:
        sub["option-data"] = [{"name": "routers", "data": ", ".join(routers)}]
    lease_db: dict[str, Any] = {"type": "memfile", "persist": lease_file is not None}
    if lease_file is not None:
        lease_db["name"] = str(lease_file)
        lease_db["lfc-interval"] = 0
    dhcp4: dict[str, Any] = {
        "interfaces-config": {"interfaces": [interface], "dhcp-socket-type": socket_type},
        "lease-database": lease_db,
        "valid-lifetime": valid_lifetime,
        "subnet4": [sub, *extra_subnets],
        "loggers": [
            {
                "name": "kea-dhcp4",
                "severity": severity,
                "output_options": [{"output": "stderr"}],
            }
        ],
    }
    if renew_timer is not None:
        dhcp4["renew-timer"] = renew_timer
    if rebind_timer is not None:
        dhcp4["rebind-timer"] = rebind_timer
    if threads is not None:
        dhcp4["multi-threading"] = {
            "enable-multi-threading": True,
            "thread-pool-size": threads,
            "packet-queue-size": 64 * threads,
        }
    else:
        dhcp4["multi-threading"] = {"enable-multi-threading": False}
    return {"Dhcp4": dhcp4}


class KeaServer(_OwnedProcess):
    """kea-dhcp4 in the foreground inside ``ns`` with private pid/lock directories."""

    def __init__(
        self,
        ns: Namespace,
        config: Mapping[str, Any],
        workdir: str | os.PathLike[str] | None = None,
        cpu: int | None = None,
    ) -> None:
        self.ns = ns
        self.config = config
        self._own_dir = workdir is None
        self.dir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="kea-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "kea-dhcp4.json"
        self.log_path = self.dir / "kea-dhcp4.log"
        self.cpu = cpu
        self.proc: subprocess.Popen[Any] | None = None
        self._logf: Any = None

    def start(self, timeout: float = 15.0) -> KeaServer:
        self.config_path.write_text(json.dumps(self.config, indent=2))
        env = dict(os.environ)
        env["KEA_PIDFILE_DIR"] = str(self.dir)
        env["KEA_LOCKFILE_DIR"] = str(self.dir)
        argv = ["kea-dhcp4", "-c", str(self.config_path)]
        if self.cpu is not None:
            argv = ["taskset", "-c", str(self.cpu), *argv]
        self._logf = self.log_path.open("ab")
        self.proc = self.ns.popen(argv, stdout=self._logf, stderr=subprocess.STDOUT, env=env)
        try:
            self.ns.wait_udp_listening(67, timeout=timeout)
        except TimeoutError:
            self.stop()
            raise NetnsError(f"kea-dhcp4 did not start:\n{self.log()}") from None
        if self.proc.poll() is not None:
            raise NetnsError(f"kea-dhcp4 exited {self.proc.returncode}:\n{self.log()}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        self._stop_process(forget=True)
