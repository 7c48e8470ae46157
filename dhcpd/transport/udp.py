"""The UDP endpoint: datagrams in with their interface (IP_PKTINFO), replies out.

This module knows nothing of DHCP beyond "bytes to and from an address on an
interface". One socket per configured interface (SO_BINDTODEVICE), or one
wildcard socket when no interface is named; each learns the receiving
interface and our address on it from IP_PKTINFO, and replies leave through the
same interface with that address as source.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
from collections.abc import Callable
from ipaddress import IPv4Address

from dhcpd.logsetup import get_logger
from dhcpd.protocol import ReceiveContext
from dhcpd.wire.addresses import address_bytes, address_int

from .arp import ArpTable
from .errors import TransportError
from .outgoing import Outgoing
from .rawsend import RawSender

log = get_logger("dhcpd.transport")

IN_PKTINFO = struct.Struct("=I4s4s")  # ipi_ifindex, ipi_spec_dst, ipi_addr
# Linux value; the socket module has the name only from Python 3.12 on.
IP_PKTINFO: int = getattr(socket, "IP_PKTINFO", 8)
BROADCAST = IPv4Address("255.255.255.255")
MAX_DATAGRAM = 65535
DRAIN_LIMIT = 256  # datagrams read per wake-up, so one busy socket cannot starve the loop

Deliver = Callable[[bytes, ReceiveContext], None]
BatchDone = Callable[[], None]

_CONTEXT_CACHE_LIMIT = 4096  # receive contexts kept (cleared when full)
_TEXT_CACHE_LIMIT = 4096  # destination addresses in text form kept


class UdpEndpoint:
    def __init__(
        self,
        interfaces: list[str],
        listen_address: IPv4Address,
        port: int,
        deliver: Deliver,
        use_arp: bool = True,
        batch_done: BatchDone | None = None,
    ) -> None:
        self.interfaces = interfaces
        self.listen_address = listen_address
        self.port = port
        self.deliver = deliver
        # Called after each batch of datagrams read in one wake-up: the app then
        # processes what it queued, urgent packets first.
        self.batch_done = batch_done
        self.arp = ArpTable(enabled=use_arp)
        self.raw = RawSender()  # when the ARP entry cannot be installed
        self._sockets: dict[int, socket.socket] = {}  # by ifindex; 0 = wildcard
        self._names: dict[int, str] = {}
        self._contexts: dict[tuple[bytes, tuple[str, int]], ReceiveContext] = {}
        # sendto wants text; str() costs ~1 µs (keyed by the int: IPv4Address's hash is
        # interpreted too)
        self._texts: dict[int, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.send_errors = 0

    def open(self) -> None:
        """Bind every socket; raise TransportError naming what failed."""
        self._loop = asyncio.get_running_loop()
        try:
            if not self.interfaces:
                self._sockets[0] = self._bind(None)
            for name in self.interfaces:
                try:
                    index = socket.if_nametoindex(name)
                except OSError:
                    raise TransportError(errno.ENODEV, f"no interface named {name!r}") from None
                self._names[index] = name
                self._sockets[index] = self._bind(name)
        except OSError:
            self.close()
            raise
        if self.arp.enabled:
            self.raw.open()  # with the sockets, before privileges are dropped
        for sock in self._sockets.values():
            self._loop.add_reader(sock.fileno(), self._drain, sock)
        log.info("transport_bound", interfaces=self.interfaces or ["*"], port=self.port,
                 address=str(self.listen_address))

    def _bind(self, interface: str | None) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            if interface is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            sock.bind((str(self.listen_address), self.port))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            where = interface or "all interfaces"
            raise TransportError(
                exc.errno, f"cannot bind UDP {self.listen_address}:{self.port} on {where}: "
                f"{exc.strerror}"
            ) from None
        return sock

    def close(self) -> None:
        """Stop reading and close every socket (idempotent)."""
        for sock in self._sockets.values():
            if self._loop is not None:
                # uvloop returns None where typeshed says bool, and compiled code checks
                # what a call returns: call it through a type that promises nothing
                stop_reading: Callable[[int], object] = self._loop.remove_reader
                stop_reading(sock.fileno())
            sock.close()
        self._sockets.clear()
        self.raw.close()

    def interface_name(self, ifindex: int) -> str:
        name = self._names.get(ifindex)
        if name is None:
            try:
                name = socket.if_indextoname(ifindex)
            except OSError:
                name = f"if{ifindex}"
            self._names[ifindex] = name
        return name

    def _drain(self, sock: socket.socket) -> None:
        try:
            self._read_batch(sock)
        finally:
            if self.batch_done is not None:
                self.batch_done()

    def _read_batch(self, sock: socket.socket) -> None:
        contexts = self._contexts
        for _ in range(DRAIN_LIMIT):
            try:
                data, ancillary, _flags, source = sock.recvmsg(MAX_DATAGRAM, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("receive_failed", error=str(exc))
                return
            pktinfo = b""
            for level, kind, payload in ancillary:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                    pktinfo = payload
            # Datagrams repeat their (interface, addresses, source): relays,
            # renewing clients. The context is immutable, so build each once.
            key = (pktinfo, source)
            ctx = contexts.get(key)
            if ctx is None:
                if len(contexts) >= _CONTEXT_CACHE_LIMIT:
                    contexts.clear()
                ctx = contexts[key] = self._context(pktinfo, source)
            self.deliver(data, ctx)

    def _context(self, pktinfo: bytes, source: tuple[str, int]) -> ReceiveContext:
        ifindex, local, header_dst = 0, self.listen_address, BROADCAST
        if pktinfo:
            ifindex, spec_dst, addr = IN_PKTINFO.unpack_from(pktinfo)
            local, header_dst = IPv4Address(spec_dst), IPv4Address(addr)
        return ReceiveContext(
            interface=self.interface_name(ifindex),
            ifindex=ifindex,
            local_address=local,
            source_address=IPv4Address(source[0]),
            source_port=source[1],
            unicast=header_dst != BROADCAST and header_dst == local,
        )

    def send(self, out: Outgoing) -> bool:
        """Send one reply; False (and counted) when the kernel refused it."""
        sock = self._sockets.get(out.ifindex) or self._sockets.get(0)
        if sock is None:
            sock = next(iter(self._sockets.values()), None)
        if sock is None:
            return False
        address = out.address
        if out.hw_address is not None and not self.arp.add(address, out.hw_address, out.interface):
            if self.raw.send(out.data, out.source, self.port, address, out.port,
                             out.hw_address, out.interface):
                return True  # (never opened with unicast_via_arp off: broadcast, below)
            # No way to reach an unconfigured client by unicast: broadcast instead.
            address = BROADCAST
        text = self._texts.get(address_int(address))
        if text is None:
            if len(self._texts) >= _TEXT_CACHE_LIMIT:
                self._texts.clear()
            text = self._texts[address_int(address)] = str(address)
        try:
            target = (text, out.port)
            if out.ifindex and 0 in self._sockets and sock is self._sockets[0]:
                pktinfo = IN_PKTINFO.pack(out.ifindex, address_bytes(out.source), bytes(4))
                sock.sendmsg([out.data], [(socket.IPPROTO_IP, IP_PKTINFO, pktinfo)], 0, target)
            else:
                sock.sendto(out.data, target)
            return True
        except OSError as exc:
            self.send_errors += 1
            log.warning("send_failed", destination=str(address), port=out.port,
                        interface=out.interface, error=exc.strerror)
            return False
