"""Prometheus metrics: a collector read at scrape time, served by a small asyncio endpoint.

Nothing is counted twice: the packet counters are the ServerStats the packet
path already keeps, pool figures come from the lease manager's index, commit
latency from the SQLite store's CommitStats. They are read when Prometheus
scrapes, so the packet path pays nothing for the metrics.

The endpoint is an asyncio handler rather than prometheus_client's threaded
start_http_server because the collector then runs on the event-loop thread:
it reads the Counters and the lease index while no worker can change them
(no locks on the hot path, no "dictionary changed size during iteration"),
and the listener is bound at start (a port in use stops the start with a
clear error) and closed with the server's TaskGroup.

Per-hook figures are the callout dispatcher's own books (HookStats), added
to what the dispatchers replaced by reloads had counted (HookMetrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from dhcpd.config import RuntimeConfig
from dhcpd.config.models import MetricsSettings
from dhcpd.errors import DhcpdError
from dhcpd.hooks.calling import DURATION_BUCKETS, HookStats
from dhcpd.hooks.dispatcher import Dispatcher
from dhcpd.leases import LeaseManager
from dhcpd.leases.stores import LeaseStore, SqliteLeaseStore
from dhcpd.leases.stores.sqlite import COMMIT_BUCKETS
from dhcpd.logsetup import get_logger
from dhcpd.protocol import DropReason
from dhcpd.stats import ServerStats

log = get_logger("dhcpd.metrics")

# Always exported (as 0 until seen), so that rate() works from the first scrape.
RECEIVED_TYPES = ("DISCOVER", "REQUEST", "DECLINE", "RELEASE", "INFORM", "BOOTP")
SENT_TYPES = ("OFFER", "ACK", "NAK", "BOOTREPLY")

# --- per-hook metrics (read from the dispatchers' own books) --------------------------

HookOutcome = Literal["ok", "failed", "timeout"]
HOOK_OUTCOMES: tuple[HookOutcome, ...] = ("ok", "failed", "timeout")


@dataclass
class _HookSeries:
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HOOK_OUTCOMES, 0))
    buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    seconds: float = 0.0

    def add(self, stats: HookStats) -> None:
        finished = sum(stats.durations)
        self.calls["ok"] += finished - stats.failures - stats.timeouts
        self.calls["failed"] += stats.failures
        self.calls["timeout"] += stats.timeouts
        for index, count in enumerate(stats.durations):
            self.buckets[index] += count
        self.seconds += stats.total_seconds


class HookMetrics:
    """Calls and durations per hook, for Prometheus.

    The hot path records nothing for the metrics: each dispatcher keeps its
    HookStats as it calls (dhcpd/hooks/dispatcher.py), and a scrape adds them
    up. A reload replaces the dispatcher and with it the books, so the old
    ones are kept here (`retire`) and added in, and the counters never go back.
    The newest retired books are held by reference, not copied: a call still
    in flight on the old dispatcher (a plain hook in its thread) is counted
    when it ends.
    """

    def __init__(self) -> None:
        self._totals: dict[str, _HookSeries] = {}
        self._retired: Mapping[str, HookStats] = {}

    def retire(self, books: Mapping[str, HookStats]) -> None:
        """A dispatcher's books, which it no longer adds to once replaced."""
        self._fold(self._totals, self._retired)
        self._retired = books

    def snapshot(self, live: Mapping[str, HookStats]) -> dict[str, _HookSeries]:
        series = {hook: _HookSeries(dict(s.calls), list(s.buckets), s.seconds)
                  for hook, s in self._totals.items()}
        self._fold(series, self._retired)
        self._fold(series, live)
        return series

    @staticmethod
    def _fold(into: dict[str, _HookSeries], books: Mapping[str, HookStats]) -> None:
        for hook, stats in books.items():
            into.setdefault(hook, _HookSeries()).add(stats)


# --- the collector ------------------------------------------------------------------


class MetricsSource(Protocol):
    """What the collector reads (DhcpServer provides it)."""

    config: RuntimeConfig
    stats: ServerStats
    leases: LeaseManager
    store: LeaseStore
    started: float
    callouts: Dispatcher
    hook_metrics: HookMetrics

    @property
    def paused(self) -> bool: ...

    def queued(self) -> int: ...


def _buckets(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    """Per-bucket counts (the last one above every bound) to Prometheus' cumulative form."""
    cumulative, buckets = 0, []
    for bound, count in zip(bounds, counts, strict=False):
        cumulative += count
        buckets.append((repr(bound), float(cumulative)))
    buckets.append(("+Inf", float(sum(counts))))
    return buckets


class DhcpCollector(Collector):
    def __init__(self, source: MetricsSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        source = self.source
        yield from self._server(source)
        yield from self._packets(source.stats)
        yield from self._pools(source)
        if isinstance(source.store, SqliteLeaseStore):
            yield from self._store(source.store)
        yield from self._hooks()

    def _server(self, source: MetricsSource) -> Iterator[Metric]:
        yield GaugeMetricFamily("dhcpd_start_time_seconds", "Unix time the server started.",
                                value=source.started)
        yield GaugeMetricFamily("dhcpd_paused", "1 while the server is paused, else 0.",
                                value=1.0 if source.paused else 0.0)
        yield GaugeMetricFamily("dhcpd_queue_length", "Packets waiting in the receive queue.",
                                value=float(source.queued()))

    def _packets(self, stats: ServerStats) -> Iterator[Metric]:
        received = CounterMetricFamily("dhcpd_packets_received",
                                       "Packets received, by message type.", labels=["type"])
        for kind in sorted(set(RECEIVED_TYPES) | set(stats.received)):
            received.add_metric([kind], stats.received.get(kind, 0))
        yield received
        sent = CounterMetricFamily("dhcpd_replies_sent", "Replies sent, by message type.",
                                   labels=["type"])
        for kind in sorted(set(SENT_TYPES) | set(stats.sent)):
            sent.add_metric([kind], stats.sent.get(kind, 0))
        yield sent
        dropped = CounterMetricFamily("dhcpd_packets_dropped",
                                      "Packets dropped without a reply, by reason.",
                                      labels=["reason"])
        counts = dict(stats.dropped)
        for reason in DropReason:
            dropped.add_metric([reason.name], counts.get(reason, 0))
        yield dropped
        yield CounterMetricFamily(
            "dhcpd_callout_drop_reports_lost",
            "Queue-full and queue-timeout drops not reported to packet_drop: beyond "
            "callouts.drop_reports_per_second, or too many reports waiting for the hook.",
            value=stats.drop_reports_lost)

    def _pools(self, source: MetricsSource) -> Iterator[Metric]:
        labels = ["subnet", "pool"]
        size = GaugeMetricFamily("dhcpd_pool_addresses", "Addresses in the pool.",
                                 labels=labels)
        active = GaugeMetricFamily("dhcpd_pool_leases_active",
                                   "Active (unexpired) leases in the pool.", labels=labels)
        declined = GaugeMetricFamily("dhcpd_pool_addresses_declined",
                                     "Declined addresses still on probation.", labels=labels)
        free = GaugeMetricFamily("dhcpd_pool_addresses_free",
                                 "Addresses neither leased nor declined.", labels=labels)
        ratio = GaugeMetricFamily("dhcpd_pool_utilisation_ratio",
                                  "(active + declined) / addresses, 0..1.", labels=labels)
        networks = {s.id: str(s.network) for s in source.config.subnets}
        for usage in source.leases.usage(time.time()):
            values = [networks.get(usage.subnet_id, str(usage.subnet_id)),
                      f"{usage.first}-{usage.last}"]
            size.add_metric(values, usage.size)
            active.add_metric(values, usage.active)
            declined.add_metric(values, usage.declined)
            free.add_metric(values, usage.free)
            ratio.add_metric(values, (usage.active + usage.declined) / usage.size)
        yield from (size, active, declined, free, ratio)

    def _store(self, store: SqliteLeaseStore) -> Iterator[Metric]:
        stats = store.stats
        commits = HistogramMetricFamily(
            "dhcpd_lease_store_commit_seconds",
            "Duration of each lease store commit (one per batch of writes).",
        )
        commits.add_metric([], _buckets(COMMIT_BUCKETS, list(stats.bucket_counts)),
                           stats.total_commit_seconds)
        yield commits
        yield CounterMetricFamily("dhcpd_lease_store_rows_committed",
                                  "Lease records written or deleted by committed batches.",
                                  value=stats.rows)

    def _hooks(self) -> Iterator[Metric]:
        source = self.source
        yield from hook_families(source.hook_metrics.snapshot(source.callouts.hook_stats()))


def hook_families(snapshot: Mapping[str, _HookSeries]) -> Iterator[Metric]:
    """dhcpd_hook_calls_total{hook,outcome} and dhcpd_hook_duration_seconds{hook}."""
    series = sorted(snapshot.items())
    calls = CounterMetricFamily("dhcpd_hook_calls", "Callout invocations, by hook and outcome.",
                                labels=["hook", "outcome"])
    durations = HistogramMetricFamily("dhcpd_hook_duration_seconds",
                                      "Duration of each callout invocation.", labels=["hook"])
    for hook, one in series:
        for outcome, count in one.calls.items():
            calls.add_metric([hook, outcome], count)
        durations.add_metric([hook], _buckets(DURATION_BUCKETS, one.buckets), one.seconds)
    yield calls
    yield durations


def make_registry(source: MetricsSource) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DhcpCollector(source))
    return registry


# --- the HTTP endpoint ---------------------------------------------------------------

MAX_REQUEST = 8192  # bytes of request line and headers
REQUEST_TIMEOUT = 10.0


class MetricsError(DhcpdError):
    """The metrics endpoint cannot be bound."""


class MetricsServer:
    """GET /metrics (HTTP/1.0, one request per connection) on the configured address."""

    def __init__(self, registry: CollectorRegistry, settings: MetricsSettings) -> None:
        self.registry = registry
        self.settings = settings
        self._sock: socket.socket | None = None
        self._server: asyncio.Server | None = None

    def open(self) -> None:
        address, port = str(self.settings.address), self.settings.port
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(16)
        except OSError as exc:
            sock.close()
            raise MetricsError(f"metrics endpoint {address}:{port}: cannot bind: "
                               f"{exc.strerror or exc}") from exc
        sock.setblocking(False)
        self._sock = sock

    @property
    def port(self) -> int:
        assert self._sock is not None
        port: int = self._sock.getsockname()[1]
        return port

    async def serve(self) -> None:
        try:
            assert self._sock is not None
            self._server = await asyncio.start_server(self._handle, sock=self._sock,
                                                      limit=MAX_REQUEST)
            log.info("metrics_listening", address=str(self.settings.address), port=self.port)
            await asyncio.Event().wait()
        finally:
            self.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
            method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
            target = rest.split(" ", 1)[0]
            if method not in ("GET", "HEAD"):
                status, body, kind = "405 Method Not Allowed", b"GET only\n", "text/plain"
            elif target.split("?", 1)[0] not in ("/metrics", "/"):
                status, body, kind = "404 Not Found", b"see /metrics\n", "text/plain"
            else:
                status, body, kind = "200 OK", generate_latest(self.registry), CONTENT_TYPE_LATEST
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + (body if method != "HEAD" else b"")
            )
            await asyncio.wait_for(writer.drain(), REQUEST_TIMEOUT)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ValueError):
            pass
        except Exception:
            log.exception("metrics_scrape_failed")
        finally:
            with contextlib.suppress(Exception):
                writer.close()
