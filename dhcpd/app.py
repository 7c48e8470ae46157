"""The one place that builds and wires everything: start-up, serving, reload, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from collections.abc import Awaitable
from pathlib import Path

from dhcpd import compiled_modules
from dhcpd.config import RuntimeConfig, load_config
from dhcpd.config.models import SqliteStoreSettings
from dhcpd.control import Commands, ControlServer
from dhcpd.errors import ConfigError
from dhcpd.hooks.api import (
    ClientKind,
    ControlCode,
    ControlEvent,
    DeleteClientEvent,
    PacketDropEvent,
)
from dhcpd.hooks.calling import HookOutcome
from dhcpd.hooks.dispatcher import CalloutDispatcher, Dispatcher
from dhcpd.hooks.setup import build_dispatcher
from dhcpd.intake import PacketIntake
from dhcpd.leases import INFINITE, Lease, LeaseManager
from dhcpd.leases.stores import LeaseStore, MemoryLeaseStore, SqliteLeaseStore
from dhcpd.logsetup import configure_logging, get_logger
from dhcpd.metrics import HookMetrics, MetricsServer, make_registry
from dhcpd.pipeline import PacketPipeline
from dhcpd.protocol import DhcpProtocol, DropReason
from dhcpd.protocol.types import Received
from dhcpd.ratelimit import TokenBucket
from dhcpd.scheduler import PacketScheduler
from dhcpd.service import ServiceRuntime
from dhcpd.stats import ServerStats
from dhcpd.transport import Outgoing, UdpEndpoint
from dhcpd.transport.icmp import IcmpProber
from dhcpd.workqueue import WorkQueue

log = get_logger("dhcpd")

SHUTDOWN_DEADLINE = 5.0  # seconds to finish the exchanges in flight at SIGTERM
OVERLOAD_LOG_INTERVAL = 5.0  # seconds between queue_full warnings
DROP_REPORTS_WAITING = 16  # packet_drop reports of queue drops waiting for a hook, at most
# Settings bound into sockets at start: a reload cannot change them.
RESTART_ONLY = ("interfaces", "listen_address", "port", "client_port", "unicast_via_arp",
                "workers", "queue_size", "max_queue_delay",
                "user", "group", "health_socket")  # service: bound or dropped at start


def tune_gc() -> None:
    """Once started: what exists now (modules, config, loaded leases) is never
    garbage, so the cyclic collector stops scanning it, and collects young
    objects less often (the packet path frees its objects by reference count;
    ~4 % of the CPU went to collections otherwise)."""
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)


def refreeze_gc() -> None:
    """After a reload. The replaced configuration and callouts were frozen with
    everything else, and frozen objects are never scanned: their reference
    cycles (a dispatcher and its bound callers, for one) would never be freed.
    Collect once, then freeze what is left. Only in a daemon that froze."""
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
        gc.freeze()


def make_store(config: RuntimeConfig) -> LeaseStore:
    settings = config.lease_store
    if isinstance(settings, SqliteStoreSettings):
        return SqliteLeaseStore(settings.path, settings.commit_delay_ms, settings.max_batch)
    return MemoryLeaseStore()


def _no_endpoint_yet(out: Outgoing) -> bool:
    raise RuntimeError("a reply before the endpoint exists")  # DhcpServer.__init__ sets it


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
        # Conflict detection's ICMP echo prober (its socket opens at start or first use).
        self.prober = IcmpProber()
        self.protocol = DhcpProtocol(self.leases, config, self.prober)
        # The callout API: the active module's hooks, called by the pipeline and,
        # for deletions, by the lease manager under its address lock.
        # Empty until load_callouts(), which run() calls once privileges are
        # dropped: a callout module is never imported as the start-up user.
        self.callouts: Dispatcher = CalloutDispatcher(None)
        # The per-hook metrics: the live dispatcher's books plus those replaced by reloads.
        self.hook_metrics = HookMetrics()
        self.leases.on_delete = self._delete_client
        self.pipeline = PacketPipeline(self.protocol, self.stats, _no_endpoint_yet,
                                       self.callouts)
        self.queue: WorkQueue[Received] = WorkQueue(
            server.queue_size, server.max_queue_delay, on_expired=self._expired)
        # Each packet is one coroutine, at most `workers` at once, the rest queued.
        self.scheduler = PacketScheduler(
            self.pipeline.process, server.workers, self.queue, self._failed,
        )
        # Each datagram read: parsed, counted and queued (dhcpd/intake.py).
        self.intake = PacketIntake(self.pipeline, self.scheduler, self._lost, self._queue_full)
        self.endpoint = UdpEndpoint(
            server.interfaces, server.listen_address, server.port, self.intake.receive,
            use_arp=server.unicast_via_arp, batch_done=self.scheduler.pump,
        )
        self.pipeline.send = self.endpoint.send  # the endpoint's own method: no hop per reply
        self.shutdown = asyncio.Event()
        self._callout_reload: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._drop_reports = 0  # packet_drop NOMEM/TIMEOUT reports under way
        self._drop_report_budget = TokenBucket(config.source.callouts.drop_reports_per_second)
        self._overload_logged = 0.0
        self.ready = asyncio.Event()
        # systemd notify, health socket, privilege drop (dhcpd/service)
        self.service = ServiceRuntime(config, lambda: len(self.leases.leases()))
        # --- control API, metrics, paused state (dhcpd/control, dhcpd/metrics) ---
        self.started = time.time()
        self.control_server = ControlServer(Commands(self), config.control) if (
            config.control.socket is not None or config.control.tcp is not None) else None
        self.metrics_server = MetricsServer(make_registry(self), config.metrics) \
            if config.metrics is not None else None
        # --- end control API ---

    # --- lifecycle --------------------------------------------------------------

    async def run(self) -> None:
        """Open the store, load the leases, bind, serve until shutdown, then drain."""
        await self.store.open()
        try:
            await self.leases.load()
            self._open_listeners()  # control socket, metrics: a clash stops the start here
            self.endpoint.open()
            if self.config.server.conflict_detection.attempts > 0:
                self.prober.open()  # before privileges drop; logs if it cannot
            await self.service.start()  # health socket, then drop privileges
            # The callouts start only now, so that an isolated worker never runs
            # with the start-up privileges; START comes before anything can call a
            # hook (the start-up reclaim may already delete records: DeleteClient),
            # and no packet is taken from the sockets before the workers run.
            self.load_callouts()  # in-process modules are imported here, unprivileged
            await self.callouts.start()  # isolation: process spawns its worker here
            await self.control(ControlCode.START)
            await self.leases.reclaim(time.time())
            self._install_signals()
            log.info("server_ready", subnets=len(self.config.subnets),
                     leases=len(self.leases.leases()), compiled_modules=len(compiled_modules()))
            self.service.ready(self._status())
            self.ready.set()
            tune_gc()
            async with asyncio.TaskGroup() as group:
                reclaimer = group.create_task(self._reclaimer(), name="reclaimer")
                service_tasks = self.service.create_tasks(group)  # watchdog, health
                listeners = self._serve_listeners(group)  # control API, metrics
                await self.shutdown.wait()
                self.service.stopping()
                log.info("server_stopping", queued=len(self.queue))
                self.endpoint.close()  # stop taking packets; finish what is queued
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.scheduler.join(), SHUTDOWN_DEADLINE)
                    deadline = time.monotonic() + SHUTDOWN_DEADLINE
                    while self._drop_reports and time.monotonic() < deadline:
                        await asyncio.sleep(0.01)  # packet_drop reports of queue drops
                self.scheduler.cancel()  # whatever missed the deadline
                await self.control(ControlCode.STOP)  # before the callout is unloaded
                await self.callouts.aclose()  # a worker process is stopped and reaped
                reclaimer.cancel()
                for task in [*service_tasks, *listeners]:
                    task.cancel()
        finally:
            self.endpoint.close()
            self.prober.close()
            self._close_listeners()
            self.service.close()
            await self.callouts.aclose()  # again (idempotent): no worker left behind
            await self.store.close()
            log.info("server_stopped", stats=self.stats.snapshot())

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.shutdown.set)
        loop.add_signal_handler(signal.SIGINT, self.shutdown.set)
        loop.add_signal_handler(signal.SIGHUP, self._sighup)
        loop.add_signal_handler(signal.SIGUSR1, self.pause)
        loop.add_signal_handler(signal.SIGUSR2, self.continue_)

    # --- service: systemd is told about reloads (dhcpd/service) ---
    def _sighup(self) -> list[str]:
        self.service.reloading()
        try:
            return self.reload()
        finally:
            self.service.ready(self._status())  # also after a rejected reload

    def _status(self) -> str:
        return (f"serving {len(self.config.subnets)} subnet(s), "
                f"{len(self.leases.leases())} lease(s)")
    # --- end service ---

    def reload(self) -> list[str]:
        """SIGHUP: re-read the configuration; a bad one is logged and the old one kept.

        Returns the reasons it was rejected (empty when it was applied).
        """
        if self.config_path is None:
            return ["the daemon was started without a configuration file"]
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("reload_rejected", path=str(self.config_path), errors=exc.errors)
            return exc.errors
        needs_restart = [
            f"server.{name}: changing it needs a restart (the sockets stay bound)"
            for name in RESTART_ONLY
            if getattr(new.server, name) != getattr(self.config.server, name)
        ]
        if type(new.lease_store) is not type(self.config.lease_store) or \
                new.lease_store != self.config.lease_store:
            needs_restart.append("lease_store: changing it needs a restart")
        needs_restart += [f"{name}: changing it needs a restart (the listener stays bound)"
                          for name in ("control", "metrics")
                          if getattr(new, name) != getattr(self.config, name)]
        if needs_restart:
            log.error("reload_rejected", path=str(self.config_path), errors=needs_restart)
            return needs_restart
        self.config = new
        configure_logging(new.logging.level, new.logging.format)
        self.leases.set_timers(
            new.server.offer_hold_time, new.server.decline_probation_time,
            new.server.hold_reclaimed_time,
        )
        self.protocol.reconfigure(new)
        log.info("config_reloaded", path=str(self.config_path), subnets=len(new.subnets))
        # Callouts are reloaded too (Microsoft needs a restart): STOP, swap, START.
        self._callout_reload = asyncio.get_running_loop().create_task(
            self._reload_callouts(new)
        )
        return []

    def load_callouts(self) -> None:
        """Build the configured callouts' dispatcher (importing in-process modules) and
        put it in place; run() does this after dropping privileges."""
        dispatcher, _ = build_dispatcher(self.config.source.callouts)
        self.callouts = dispatcher
        self.pipeline.callouts = dispatcher

    async def _reload_callouts(self, new: RuntimeConfig) -> None:
        self._drop_report_budget = TokenBucket(new.source.callouts.drop_reports_per_second)
        dispatcher, _ = build_dispatcher(new.source.callouts)
        await dispatcher.start()  # a new worker is ready before the swap
        await self.control(ControlCode.STOP)
        old, self.callouts = self.callouts, dispatcher
        self.hook_metrics.retire(old.hook_stats())
        self.pipeline.callouts = dispatcher
        await old.aclose()
        await self.control(ControlCode.START)
        log.info("callouts_reloaded", module=dispatcher.module)
        del old
        refreeze_gc()

    # --- paused state, control API and metrics listeners ---------------------------

    def pause(self) -> bool:
        """SIGUSR1 or `ctl pause`: packets are still read and counted, then dropped (PAUSED).

        The one place the server is paused; False if it already was.
        """
        if self.paused:
            return False
        self.pipeline.paused = True
        log.warning("server_paused")
        self._control_soon(ControlCode.PAUSE)
        return True

    def continue_(self) -> bool:
        """SIGUSR2 or `ctl continue`: answer packets again; False if it was not paused."""
        if not self.paused:
            return False
        self.pipeline.paused = False
        log.warning("server_continued")
        self._control_soon(ControlCode.CONTINUE)
        return True

    @property
    def paused(self) -> bool:
        return self.pipeline.paused

    def _control_soon(self, code: ControlCode) -> None:
        """The Control hook from a synchronous caller (a signal handler, a command)."""
        if self.callouts.has("control"):
            task = asyncio.get_running_loop().create_task(self.control(code))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def reload_config(self) -> list[str]:
        """`ctl reload`: the same as SIGHUP; the errors when it is rejected."""
        return self._sighup()

    def queued(self) -> int:
        return len(self.queue)

    def _open_listeners(self) -> None:
        if self.control_server is not None:
            self.control_server.open()
        if self.metrics_server is not None:
            self.metrics_server.open()

    def _serve_listeners(self, group: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
        return [group.create_task(server.serve(), name=name) for name, server in (
            ("control", self.control_server), ("metrics", self.metrics_server))
            if server is not None]

    def _close_listeners(self) -> None:
        for server in (self.control_server, self.metrics_server):
            if server is not None:
                server.close()

    # --- end paused state, control API and metrics ----------------------------------

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

    def _queue_full(self) -> None:
        """A packet was lost for want of room in the queue (already counted):
        logged at most every few seconds, since under overload a line per packet
        would only add to the load."""
        now = time.monotonic()
        if now - self._overload_logged > OVERLOAD_LOG_INTERVAL:
            self._overload_logged = now
            log.warning("queue_full", capacity=self.queue.capacity,
                        expired_total=self.queue.expired)

    def _expired(self, item: Received) -> None:
        """A packet waited in the queue longer than max_queue_delay: dropped unprocessed."""
        self._lost(item, DropReason.TIMEOUT)

    def _lost(self, item: Received, reason: DropReason) -> None:
        """A packet dropped before processing (it never reached new_packet): counted,
        and reported to the packet_drop hook with its reason (no PROCESSED follows,
        and there is no packet context yet)."""
        self.stats.dropped[reason] += 1
        call = self.callouts.callers.get("packet_drop")
        if call is None:
            return
        if self._drop_reports >= DROP_REPORTS_WAITING or not self._drop_report_budget.take():
            # Under a flood the reports are bounded, in rate (so they cannot eat
            # the CPU the packets being served need) and in number waiting (a
            # plain or isolated hook's reports would otherwise queue in its pool
            # ahead of the served packets' own calls); the rest are counted
            # (dhcpd_callout_drop_reports_lost).
            self.stats.drop_reports_lost += 1
            return
        # Under overload this runs for every packet evicted from the queue, so
        # the common case (the hook is done at once) costs one call, no coroutine.
        called = call(PacketDropEvent(item.data, reason, item.ctx.local_address, None))
        if not isinstance(called, HookOutcome):  # it waits: finish it on the side
            self._drop_reports += 1
            self.scheduler.spawn(self._finish_drop_report(called))

    async def _finish_drop_report(self, called: Awaitable[HookOutcome]) -> None:
        try:
            await called
        except Exception:  # the dispatcher contains hook failures; this is a bug of ours
            log.exception("drop_report_failed")
        finally:
            self._drop_reports -= 1

    def _failed(self, item: Received, exc: Exception) -> None:
        self.stats.dropped[DropReason.INTERNAL_ERROR] += 1
        log.error("packet_failed", interface=item.ctx.interface,
                  exc_info=(type(exc), exc, exc.__traceback__))

    async def _delete_client(self, lease: Lease) -> None:
        """DeleteClient, directly before a record is deleted (address lock held)."""
        if self.callouts.has("delete_client"):
            await self.callouts.call("delete_client", DeleteClientEvent(
                address=lease.address, hw_address=lease.hw_address.address,
                hw_type=lease.hw_address.htype, client_id=lease.client_id,
                client=ClientKind.BOOTP if lease.expires - lease.starts >= INFINITE
                else ClientKind.DHCP,
            ))

    async def control(self, code: ControlCode) -> None:
        """The Control hook: START, STOP, PAUSE, CONTINUE."""
        if self.callouts.has("control"):
            await self.callouts.call("control", ControlEvent(code))
