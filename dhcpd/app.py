"""The one place that builds and wires everything: start-up, serving, reload, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from dhcpd.config import RuntimeConfig, load_config
from dhcpd.config.models import SqliteStoreSettings
from dhcpd.errors import ConfigError
from dhcpd.leases import LeaseManager
from dhcpd.leases.stores import LeaseStore, MemoryLeaseStore, SqliteLeaseStore
from dhcpd.logsetup import configure_logging, get_logger
from dhcpd.protocol import DhcpProtocol, DropReason, ReceiveContext
from dhcpd.stats import ServerStats
from dhcpd.transport import Outgoing, UdpEndpoint
from dhcpd.wire import DhcpMessage, MalformedPacket, MessageType
from dhcpd.workqueue import WorkQueue

log = get_logger("dhcpd")

SHUTDOWN_DEADLINE = 5.0  # seconds to finish the exchanges in flight at SIGTERM
OVERLOAD_LOG_INTERVAL = 5.0  # seconds between queue_full warnings
# Settings bound into sockets at start: a reload cannot change them.
RESTART_ONLY = ("interfaces", "listen_address", "port", "client_port", "unicast_via_arp",
                "workers", "queue_size", "max_queue_delay")


@dataclass(frozen=True, slots=True)
class Received:
    request: DhcpMessage
    ctx: ReceiveContext


def make_store(config: RuntimeConfig) -> LeaseStore:
    settings = config.lease_store
    if isinstance(settings, SqliteStoreSettings):
        return SqliteLeaseStore(settings.path, settings.commit_delay_ms, settings.max_batch)
    return MemoryLeaseStore()


class DhcpServer:
    def __init__(self, config: RuntimeConfig, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.stats = ServerStats()
        self.store = make_store(config)
        server = config.server
        self.leases = LeaseManager(
            self.store,
            config.subnets,
            offer_hold_time=server.offer_hold_time,
            decline_probation_time=server.decline_probation_time,
            hold_reclaimed_time=server.hold_reclaimed_time,
        )
        self.protocol = DhcpProtocol(self.leases, config)
        self.queue: WorkQueue[Received] = WorkQueue(server.queue_size, server.max_queue_delay)
        self.endpoint = UdpEndpoint(
            server.interfaces, server.listen_address, server.port, self._enqueue,
            use_arp=server.unicast_via_arp,
        )
        self.shutdown = asyncio.Event()
        self._overload_logged = 0.0
        self.ready = asyncio.Event()

    # --- lifecycle --------------------------------------------------------------

    async def run(self) -> None:
        """Open the store, load the leases, bind, serve until shutdown, then drain."""
        await self.store.open()
        try:
            await self.leases.load()
            await self.leases.reclaim(time.time())
            self.endpoint.open()
            self._install_signals()
            log.info("server_ready", subnets=len(self.config.subnets),
                     leases=len(self.leases.leases()))
            self.ready.set()
            async with asyncio.TaskGroup() as group:
                workers = [
                    group.create_task(self._worker(), name=f"worker-{i}")
                    for i in range(self.config.server.workers)
                ]
                reclaimer = group.create_task(self._reclaimer(), name="reclaimer")
                await self.shutdown.wait()
                log.info("server_stopping", queued=len(self.queue))
                self.endpoint.close()  # stop taking packets; finish what is queued
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.queue.join(), SHUTDOWN_DEADLINE)
                reclaimer.cancel()
                for worker in workers:
                    worker.cancel()
        finally:
            self.endpoint.close()
            await self.store.close()
            log.info("server_stopped", stats=self.stats.snapshot())

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.shutdown.set)
        loop.add_signal_handler(signal.SIGINT, self.shutdown.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)

    def reload(self) -> None:
        """SIGHUP: re-read the configuration; a bad one is logged and the old one kept."""
        if self.config_path is None:
            return
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("reload_rejected", path=str(self.config_path), errors=exc.errors)
            return
        needs_restart = [
            f"server.{name}: changing it needs a restart (the sockets stay bound)"
            for name in RESTART_ONLY
            if getattr(new.server, name) != getattr(self.config.server, name)
        ]
        if type(new.lease_store) is not type(self.config.lease_store) or \
                new.lease_store != self.config.lease_store:
            needs_restart.append("lease_store: changing it needs a restart")
        if needs_restart:
            log.error("reload_rejected", path=str(self.config_path), errors=needs_restart)
            return
        self.config = new
        configure_logging(new.logging.level, new.logging.format)
        self.leases.set_timers(
            new.server.offer_hold_time, new.server.decline_probation_time,
            new.server.hold_reclaimed_time,
        )
        self.protocol.reconfigure(new)
        log.info("config_reloaded", path=str(self.config_path), subnets=len(new.subnets))

    async def _reclaimer(self) -> None:
        while True:
            await asyncio.sleep(self.config.server.reclaim_interval)
            try:
                report = await self.leases.reclaim(time.time())
            except Exception:
                log.exception("reclaim_failed")
                continue
            if report.expired or report.deleted:
                log.info("leases_reclaimed", expired=report.expired, deleted=report.deleted,
                         offers_dropped=report.offers_dropped)

    # --- the packet path ----------------------------------------------------------

    def _enqueue(self, data: bytes, ctx: ReceiveContext) -> None:
        """Called by the transport for each datagram: parse, count, queue."""
        try:
            request = DhcpMessage.parse(data)
            kind = request.message_type
        except MalformedPacket as exc:
            self._drop(DropReason.INVALID, f"malformed packet: {exc}", ctx)
            return
        self.stats.received[kind.name if kind is not None else "BOOTP"] += 1
        urgent = kind is not None and kind is not MessageType.DISCOVER
        if not self.queue.put(Received(request, ctx), urgent):
            # Counted, and logged at most every few seconds: under overload a
            # line per packet would only add to the load. Reading goes on, so
            # that REQUESTs still reach the queue past the waiting DISCOVERs.
            self.stats.dropped[DropReason.NOMEM] += 1
            now = time.monotonic()
            if now - self._overload_logged > OVERLOAD_LOG_INTERVAL:
                self._overload_logged = now
                log.warning("queue_full", capacity=self.queue.capacity,
                            expired_total=self.queue.expired)

    async def _worker(self) -> None:
        while True:
            queued = await self.queue.get()
            if queued is None:
                self.stats.dropped[DropReason.TIMEOUT] += 1
                continue
            item = queued.item
            try:
                await self.process(item.request, item.ctx)
            except Exception:
                self.stats.dropped[DropReason.INTERNAL_ERROR] += 1
                log.exception("packet_failed", interface=item.ctx.interface)
            finally:
                self.queue.done()

    async def process(self, request: DhcpMessage, ctx: ReceiveContext) -> None:
        # Every log line of this exchange names its client, xid and interface.
        structlog.contextvars.bind_contextvars(
            xid=f"{request.xid:#010x}", client=str(request.hw_address), interface=ctx.interface
        )
        outcome = await self.protocol.handle(request, ctx, time.time())
        if outcome.reply is None:
            if outcome.drop is not None and outcome.drop is not DropReason.PROCESSED:
                self._drop(outcome.drop, outcome.detail, ctx)
            return
        reply = outcome.reply
        payload, omitted = reply.message.encode_with_report(reply.max_size)
        if omitted:
            log.warning("options_omitted", xid=hex(request.xid), codes=list(omitted))
        sent = self.endpoint.send(Outgoing(
            data=payload,
            address=reply.destination.address,
            port=reply.destination.port,
            source=reply.source_address,
            ifindex=ctx.ifindex,
            interface=ctx.interface,
            hw_address=reply.destination.hw_address,
        ))
        if sent:
            reply_type = reply.message.message_type
            self.stats.sent[reply_type.name if reply_type is not None else "BOOTREPLY"] += 1

    def _drop(self, reason: DropReason, detail: str, ctx: ReceiveContext) -> None:
        self.stats.dropped[reason] += 1
        log.info(
            "packet_dropped",
            reason=reason.name,
            detail=detail,
            interface=ctx.interface,
            source=str(ctx.source_address),
        )
