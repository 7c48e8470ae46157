"""ICMP echo probes: is an address already in use by someone we do not know?

Conflict detection (ISC dhcpd's ping-check, Windows' "conflict detection
attempts") sends an RFC 792 echo request to an address before offering it.
One socket serves every probe: a raw ICMP socket (needs CAP_NET_RAW, which the
daemon keeps), else an unprivileged ICMP datagram socket (allowed when our gid
is in net.ipv4.ping_group_range), else none: that is logged once and every
probe answers "free". Replies are read with loop.add_reader and matched to the
waiting probe by identifier, sequence and source address; nothing here blocks
the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import struct
from ipaddress import IPv4Address

from dhcpd.deadline import within
from dhcpd.logsetup import get_logger

from .checksum import internet_checksum

log = get_logger("dhcpd.transport")

ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
SOL_RAW = 255
ICMP_FILTER = 1  # linux/icmp.h: a bit set per ICMP type drops that type on a raw socket
PAYLOAD = b"dhcpd-conflict-probe"
RECEIVE_LIMIT = 256  # datagrams read per wake-up
_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence


def echo_request(identifier: int, sequence: int, payload: bytes = PAYLOAD) -> bytes:
    """An RFC 792 echo request with its checksum."""
    header = _HEADER.pack(ICMP_ECHO_REQUEST, 0, 0, identifier, sequence)
    return _HEADER.pack(ICMP_ECHO_REQUEST, 0, internet_checksum(header + payload), identifier,
                        sequence) + payload


def parse_echo_reply(data: bytes, has_ip_header: bool) -> tuple[int, int] | None:
    """(identifier, sequence) of an echo reply, or None for anything else."""
    if has_ip_header:
        if len(data) < 20 or data[0] >> 4 != 4:
            return None
        data = data[(data[0] & 0x0F) * 4:]
    if len(data) < _HEADER.size:
        return None
    kind, code, _, identifier, sequence = _HEADER.unpack_from(data)
    if kind != ICMP_ECHO_REPLY or code != 0:
        return None
    return identifier, sequence


class IcmpProber:
    """`await probe(address, attempts, timeout)`: True when the address answered an echo."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._raw = False
        self._identifier = (os.getpid() ^ 0x5A5A) & 0xFFFF
        self._sequence = itertools.count(int.from_bytes(os.urandom(2), "big"))
        self._waiting: dict[tuple[int, int], asyncio.Future[None]] = {}  # (address, seq)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unavailable = False
        self._closed = False
        self.mode = "idle"  # then "raw", "datagram" or "unavailable"; "closed" at the end

    def open(self) -> bool:
        """Open the shared socket (done by the first probe if not before); False: none."""
        if self._sock is not None:
            return True
        if self._unavailable or self._closed:
            return False
        errors: list[str] = []
        for kind, raw in ((socket.SOCK_RAW, True), (socket.SOCK_DGRAM, False)):
            try:
                sock = socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP)
            except OSError as exc:
                errors.append(f"{'raw' if raw else 'datagram'}: {exc.strerror or exc}")
                continue
            sock.setblocking(False)
            if raw:
                # Only echo replies reach us, not every ICMP message of the host.
                with contextlib.suppress(OSError):
                    sock.setsockopt(SOL_RAW, ICMP_FILTER,
                                    struct.pack("I", ~(1 << ICMP_ECHO_REPLY) & 0xFFFFFFFF))
            self._sock, self._raw = sock, raw
            self.mode = "raw" if raw else "datagram"
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(sock.fileno(), self._drain)
            log.info("conflict_detection_ready", socket=self.mode)
            return True
        self._unavailable = True
        self.mode = "unavailable"
        log.warning("conflict_detection_unavailable", errors=errors,
                    effect="addresses are offered without a ping")
        return False

    def close(self) -> None:
        """Close the socket for good: later probes answer "free" at once."""
        self._closed = True
        sock, self._sock = self._sock, None
        if sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(sock.fileno())
            sock.close()
        # Probes still waiting run into their timeout (answer "free"); cancelling
        # their futures would look like a cancellation of the exchange itself.
        self.mode = "closed"

    async def probe(self, address: IPv4Address, attempts: int, timeout: float) -> bool:
        """Up to `attempts` echoes, each awaited `timeout` seconds; True at the first answer."""
        if attempts <= 0 or not self.open():
            return False
        sock = self._sock
        assert sock is not None and self._loop is not None
        target = int(address)
        for _ in range(attempts):
            sequence = next(self._sequence) & 0xFFFF
            key = (target, sequence)
            future: asyncio.Future[None] = self._loop.create_future()
            self._waiting[key] = future
            try:
                try:
                    sock.sendto(echo_request(self._identifier, sequence), (str(address), 0))
                except OSError as exc:
                    # No route, unreachable, buffer full: this attempt got no answer.
                    log.debug("probe_send_failed", address=str(address), error=str(exc))
                    continue
                try:
                    await within(future, timeout)  # no Task here: see dhcpd/deadline.py
                    return True
                except TimeoutError:
                    continue
            finally:
                if self._waiting.get(key) is future:
                    del self._waiting[key]
        return False

    def _drain(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(RECEIVE_LIMIT):
            try:
                data, source = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # An ICMP error queued on the socket (e.g. host unreachable): ignore.
                continue
            parsed = parse_echo_reply(data, self._raw)
            if parsed is None:
                continue
            identifier, sequence = parsed
            # A datagram socket's identifier is rewritten by the kernel, which
            # only hands us replies to our own socket; a raw one sees every reply.
            if self._raw and identifier != self._identifier:
                continue
            try:
                key = (int(IPv4Address(source[0])), sequence)
            except ValueError:
                continue
            future = self._waiting.pop(key, None)
            if future is not None and not future.done():
                future.set_result(None)
