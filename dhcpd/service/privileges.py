"""Dropping root once the sockets are bound, keeping only the network capabilities.

Started as root with ``server.user`` set, the daemon (after binding and opening
the lease store) switches to that user and group and keeps exactly
CAP_NET_BIND_SERVICE, CAP_NET_RAW and CAP_NET_ADMIN in its permitted and
effective sets: PR_SET_KEEPCAPS carries the permitted set across setuid, then
capset(2) (through libc, by ctypes) narrows it to those three and raises them
again as effective. Every other capability is also dropped from the bounding
set. The inheritable and ambient sets stay empty: a program the daemon might
run gets none of them.

Capabilities are per thread on Linux: the threads that exist at the drop (the
SQLite writer) lose all of theirs when setuid(2) is applied to them; only the
event-loop thread, which sends the packets and installs the ARP entries, keeps
the three.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import grp
import os
import pwd
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dhcpd.errors import DhcpdError

# linux/capability.h
CAPABILITIES = {"net_bind_service": 10, "net_admin": 12, "net_raw": 13}
_CAP_SETPCAP = 8
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
# linux/prctl.h
_PR_SET_KEEPCAPS = 8
_PR_CAPBSET_DROP = 24


class PrivilegeError(DhcpdError):
    """The drop could not be done; the daemon must not go on as root."""


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    uid: int
    group: str
    gid: int


def resolve_user(user: str) -> pwd.struct_passwd:
    """A user by name (or by number given as text); ValueError naming it when unknown."""
    try:
        return pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except (KeyError, OverflowError):
        raise ValueError(f"no such user '{user}' on this system") from None


def resolve_group(group: str) -> grp.struct_group:
    try:
        return grp.getgrgid(int(group)) if group.isdigit() else grp.getgrnam(group)
    except (KeyError, OverflowError):
        raise ValueError(f"no such group '{group}' on this system") from None


def resolve(user: str, group: str | None = None) -> Identity:
    """The uid and gid to run as; the group defaults to the user's primary group."""
    entry = resolve_user(user)
    if group is None:
        gid = entry.pw_gid
        try:
            name = grp.getgrgid(gid).gr_name
        except KeyError:
            name = str(gid)
        return Identity(entry.pw_name, entry.pw_uid, name, gid)
    group_entry = resolve_group(group)
    return Identity(entry.pw_name, entry.pw_uid, group_entry.gr_name, group_entry.gr_gid)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise PrivilegeError(f"{what} failed: {os.strerror(errno)}")


def _capset(libc: ctypes.CDLL, mask: int) -> None:
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()  # version 3: two 32-bit words per set
    data[0].effective = data[0].permitted = mask & 0xFFFFFFFF
    data[1].effective = data[1].permitted = mask >> 32
    _check(libc.capset(ctypes.byref(header), data), "capset")


def _last_cap() -> int:
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return 40


def drop_privileges(
    identity: Identity, keep: Iterable[int] = CAPABILITIES.values(),
    own: Iterable[Path] = (),
) -> list[Path]:
    """Become `identity`, keeping the capabilities `keep`; chown the files `own` first.

    Returns the files given to the user. Must run as root, on the event-loop
    thread. Raises PrivilegeError if any step fails (the caller stops).
    """
    keep = set(keep)
    mask = sum(1 << cap for cap in keep)
    owned = []
    for path in own:
        if path.exists():
            os.chown(path, identity.uid, identity.gid)
            owned.append(path)
    libc = _libc()
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    _check(prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")
    for cap in range(_last_cap() + 1):
        if cap not in keep and cap != _CAP_SETPCAP:
            prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)  # best effort: needs CAP_SETPCAP
    prctl(_PR_CAPBSET_DROP, _CAP_SETPCAP, 0, 0, 0)
    try:
        os.setgroups([identity.gid])
        os.setgid(identity.gid)
        os.setuid(identity.uid)
    except OSError as exc:
        raise PrivilegeError(f"cannot switch to {identity.user}:{identity.group}: "
                             f"{exc.strerror}") from None
    _capset(libc, mask)  # narrows the permitted set, raises the kept ones as effective
    _check(prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0), "prctl(PR_SET_KEEPCAPS, 0)")
    try:  # the drop must be irreversible
        os.setuid(0)
    except PermissionError:
        pass
    else:
        raise PrivilegeError("could regain root after dropping privileges")
    return owned


def effective_capabilities() -> list[str]:
    """Names of our effective capabilities (``cap_N`` for those not named here)."""
    status = Path("/proc/self/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("CapEff:"))
    value = int(line.split()[1], 16)
    names = {cap: name for name, cap in CAPABILITIES.items()}
    return sorted(names.get(bit, f"cap_{bit}") for bit in range(64) if value >> bit & 1)
