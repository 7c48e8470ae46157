"""Metrics: the per-hook registry, the collector, and a scrape of the real daemon."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dhcpd.app import DhcpServer
from dhcpd.config import load_config
from dhcpd.hooks import HookTable
from dhcpd.hooks.api import ControlCode
from dhcpd.hooks.calling import HookStats
from dhcpd.hooks.dispatcher import CalloutDispatcher
from dhcpd.metrics import HookMetrics, hook_families, make_registry
from dhcpd.wire import MessageType
from tests.control.helpers import Served, serve
from tests.factories import BASE_CONFIG, request
from tests.process.test_daemon_loopback import dora, free_port


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def books(ok: int = 0, failed: int = 0, timeouts: int = 0, seconds: float = 0.0) -> HookStats:
    """A slot's books as a dispatcher keeps them: each finished call in one duration bucket."""
    stats = HookStats(calls=ok + failed + timeouts, failures=failed, timeouts=timeouts,
                      total_seconds=seconds)
    stats.durations[0] += ok + failed
    stats.durations[-1] += timeouts
    return stats


def test_hook_metrics_add_the_live_books_to_those_a_reload_retired() -> None:
    metrics = HookMetrics()
    first = {"packet_send": books(ok=3, failed=1, seconds=0.5)}
    metrics.retire(first)
    metrics.retire({"packet_send": books(ok=2, timeouts=1, seconds=2.0)})
    live = {"packet_send": books(ok=1, seconds=0.25), "new_packet": books(failed=2)}
    series = metrics.snapshot(live)
    assert series["packet_send"].calls == {"ok": 6, "failed": 1, "timeout": 1}
    assert sum(series["packet_send"].buckets) == 8
    assert series["packet_send"].buckets[-1] == 1
    assert series["packet_send"].seconds == pytest.approx(2.75)
    assert series["new_packet"].calls == {"ok": 0, "failed": 2, "timeout": 0}
    # Folding the retired books into the totals at the next reload keeps every count.
    first_again = metrics.snapshot({})
    metrics.retire({})
    assert metrics.snapshot({})["packet_send"].calls == first_again["packet_send"].calls


def test_a_call_that_ends_on_the_retired_dispatcher_is_still_counted() -> None:
    # The newest retired books are read live: a plain hook still running in its
    # thread when the reload swapped the dispatcher is counted when it ends.
    metrics = HookMetrics()
    old = {"packet_send": books(ok=1)}
    metrics.retire(old)
    old["packet_send"].durations[0] += 1  # the late call finishes, well
    assert metrics.snapshot({})["packet_send"].calls["ok"] == 2


async def test_hook_calls_appear_in_the_exposition() -> None:
    async def ok(event: object) -> None:
        return None

    async def broken(event: object) -> None:
        raise RuntimeError("boom")

    dispatcher = CalloutDispatcher(HookTable(packet_send=ok, packet_drop=broken))
    await dispatcher.call("packet_send", object())
    await dispatcher.call("packet_drop", object())
    snapshot = HookMetrics().snapshot(dispatcher.hook_stats())
    by_name = {f.name: f for f in hook_families(snapshot)}
    calls = {tuple(s.labels.values()): s.value for s in by_name["dhcpd_hook_calls"].samples}
    assert calls[("packet_send", "ok")] == 1 and calls[("packet_drop", "failed")] == 1
    assert calls[("packet_send", "failed")] == 0
    buckets = {(s.labels["hook"], s.labels["le"]): s.value
               for s in by_name["dhcpd_hook_duration_seconds"].samples
               if s.name.endswith("_bucket")}
    assert buckets[("packet_send", "0.0005")] == 1 and buckets[("packet_send", "+Inf")] == 1


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    instance = serve(tmp_path_factory.mktemp("metrics"))
    yield instance
    instance.relay.close()
    instance.daemon.stop()


def scrape(served: Served, path: str = "/metrics") -> str:
    url = f"http://127.0.0.1:{served.metrics_port}{path}"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        body: bytes = response.read()
    return body.decode()


def test_a_scrape_after_a_dora_shows_the_counters_and_the_pool(served: Served) -> None:
    dora(served.relay, 21)
    found = samples(scrape(served))
    assert found[("dhcpd_packets_received_total", (("type", "DISCOVER"),))] == 1
    assert found[("dhcpd_packets_received_total", (("type", "REQUEST"),))] == 1
    assert found[("dhcpd_replies_sent_total", (("type", "OFFER"),))] == 1
    assert found[("dhcpd_replies_sent_total", (("type", "ACK"),))] == 1
    assert found[("dhcpd_packets_dropped_total", (("reason", "PAUSED"),))] == 0
    pool = (("pool", "127.0.1.10-127.0.1.250"), ("subnet", "127.0.0.0/8"))
    assert found[("dhcpd_pool_addresses", pool)] == 241
    assert found[("dhcpd_pool_leases_active", pool)] == 1
    assert found[("dhcpd_pool_addresses_free", pool)] == 240
    assert found[("dhcpd_pool_utilisation_ratio", pool)] == pytest.approx(1 / 241)
    assert found[("dhcpd_lease_store_commit_seconds_count", ())] >= 1
    assert found[("dhcpd_lease_store_rows_committed_total", ())] >= 1
    assert found[("dhcpd_paused", ())] == 0


def test_a_paused_drop_is_a_metric(served: Served) -> None:
    served.client().call("pause")
    try:
        discover = request(MessageType.DISCOVER, 22, xid=2200, giaddr=served.relay.address)
        assert served.relay.exchange(discover) is None
        found = samples(scrape(served))
        assert found[("dhcpd_packets_dropped_total", (("reason", "PAUSED"),))] == 1
        assert found[("dhcpd_paused", ())] == 1
    finally:
        served.client().call("continue")


def test_other_paths_are_not_found(served: Served) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        scrape(served, "/secret")
    assert caught.value.code == 404


def test_the_metrics_port_in_use_stops_the_start(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "clash.yaml"
    config.write_text(f"lease_store: {{type: memory}}\n"
                      f"server: {{listen_address: 127.0.0.1, port: {free_port()}}}\n"
                      f"metrics: {{port: {served.metrics_port}}}\n")
    result = subprocess.run([sys.executable, "-m", "dhcpd", "--config", str(config)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "metrics endpoint" in result.stderr


async def test_a_reload_does_not_set_the_hook_counters_back(tmp_path: Path) -> None:
    path = tmp_path / "dhcpd.yaml"
    path.write_text(BASE_CONFIG + "callouts:\n  enabled: true\n"
                    "  modules: [tests.hooks.sample_callout]\n")
    server = DhcpServer(load_config(path), config_path=path)
    server.load_callouts()
    try:
        await server.control(ControlCode.START)
        assert server.reload() == []
        assert server._callout_reload is not None
        await server._callout_reload  # STOP to the old dispatcher, START to the new one
        exposition = generate_latest(make_registry(server)).decode()
        assert samples(exposition)[
            ("dhcpd_hook_calls_total", (("hook", "control"), ("outcome", "ok")))] == 3
    finally:
        server.callouts.close()
