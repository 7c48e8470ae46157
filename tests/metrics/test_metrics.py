"""Metrics: the per-hook registry, the collector, and a scrape of the real daemon."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dhcpd import metrics
from dhcpd.metrics import HookMetrics, hook_observe
from dhcpd.wire import MessageType
from tests.control.helpers import Served, serve
from tests.factories import request
from tests.process.test_daemon_loopback import dora, free_port


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_hook_observe_counts_outcomes_and_durations() -> None:
    hooks = HookMetrics()
    hooks.observe("PktRecv", "ok", 0.0002)
    hooks.observe("PktRecv", "ok", 0.003)
    hooks.observe("PktRecv", "timeout", 2.0)
    hooks.observe("AddressOffer", "failed", 0.01)
    series = hooks.snapshot()
    assert series["PktRecv"].calls == {"ok": 2, "failed": 0, "timeout": 1}
    assert sum(series["PktRecv"].buckets) == 3
    assert series["PktRecv"].seconds == pytest.approx(2.0032)
    with pytest.raises(ValueError, match="outcome"):
        hooks.observe("PktRecv", "crashed", 0.1)  # type: ignore[arg-type]


def test_hook_observe_appears_in_the_exposition() -> None:
    metrics.HOOKS.reset()
    try:
        hook_observe("PktSend", "ok", 0.0004)
        hook_observe("PktSend", "failed", 0.2)
        by_name = {f.name: f for f in metrics.hook_families(metrics.HOOKS)}
        calls = {tuple(s.labels.values()): s.value for s in by_name["dhcpd_hook_calls"].samples}
        assert calls[("PktSend", "ok")] == 1 and calls[("PktSend", "failed")] == 1
        buckets = {s.labels["le"]: s.value for s in by_name["dhcpd_hook_duration_seconds"].samples
                   if s.name.endswith("_bucket")}
        assert buckets["0.0005"] == 1 and buckets["0.5"] == 2 and buckets["+Inf"] == 2
    finally:
        metrics.HOOKS.reset()


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
