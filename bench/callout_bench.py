"""The per-DORA cost of the callout path, in-process: no sockets, no perfdhcp.

The whole packet path runs as in the daemon: PacketIntake.receive (parse,
count, queue) -> PacketScheduler.pump -> PacketPipeline -> protocol -> lease
manager -> store, with the UDP send replaced by a list append. For each
repetition every mode runs once, side by side, on a fresh server and store:
DISCOVERs for `--clients` clients are fed in batches (pump() after each
batch, one loop turn between batches, as the endpoint does), then a REQUEST
for every OFFER. Reported: µs per DORA (both answered), the median over the
repetitions, and each mode's overhead against `none`.

`--callouts` lists the modes: none (no callouts), async (an `async def` no-op
hook in every slot, bench/noop_callout.py), plain (plain no-op functions, run
in the thread pool), isolated (async no-ops in a worker process).

Usage (pin it; the machines are shared: compare figures from one run, and
expect 10-20 % between runs):

    taskset -c 0 .venv/bin/python bench/callout_bench.py
    taskset -c 0 .venv/bin/python bench/callout_bench.py --store sqlite --callouts none,async,plain

Figures (2-core VM, memory store, 2,000 clients, median of 11, none vs async,
two runs each, 2026-11-24):

    before (a Task per packet with callouts, asyncio.timeout, per-call lookups,
    frozen-dataclass __init__ per event):  none 149-167 µs, async 258-277 µs: +70 %
    after:                                  none 142-175 µs, async 182-221 µs: +30-36 %
    sqlite store, one run each:             +77 % before, +33 % after

(This path has no kernel: the daemon's DORA under perfdhcp costs about three
times as much, so the same µs are a smaller share there.)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from ipaddress import IPv4Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dhcpd.app import DhcpServer
from dhcpd.config import parse_config
from dhcpd.hooks.api import ControlCode
from dhcpd.logsetup import configure_logging
from dhcpd.protocol import ReceiveContext
from dhcpd.transport import Outgoing
from dhcpd.wire import DhcpMessage, MessageType
from tests.factories import request

NOOP_CALLOUT = Path(__file__).resolve().parent / "noop_callout.py"
SERVER = IPv4Address("192.0.2.1")
RELAY = IPv4Address("198.18.0.2")
MODES = ("none", "async", "plain", "isolated")


def callouts_yaml(mode: str) -> str:
    """As bench/perfdhcp_bench.py: a no-op hook in every slot."""
    if mode == "none":
        return ""
    isolated = mode == "isolated"
    return (
        "callouts:\n  enabled: true\n"
        f"  modules: [{NOOP_CALLOUT}]\n"
        f"  settings: {{{NOOP_CALLOUT}: {{mode: {'async' if isolated else mode}}}}}\n"
        + ("  isolation: process\n" if isolated else "")
    )


def config_yaml(mode: str, store: str, directory: Path) -> str:
    lease_store = (f"{{type: sqlite, path: {directory}/leases.sqlite3}}" if store == "sqlite"
                   else "{type: memory}")
    return (
        f"lease_store: {lease_store}\n"
        "logging: {level: warning}\n"
        "subnets:\n"
        "  - subnet: 198.18.0.0/16\n"
        "    pools: [{range: 198.18.0.10-198.18.255.250}]\n"
        + callouts_yaml(mode)
    )


async def feed(srv: DhcpServer, packets: list[bytes], ctx: ReceiveContext, batch: int) -> None:
    """As the endpoint does: a batch of datagrams, pump(), the next loop turn."""
    room = srv.queue.capacity - batch
    for start in range(0, len(packets), batch):
        while len(srv.queue) > room:  # never lose a packet to a full queue
            await asyncio.sleep(0.0005)
        for data in packets[start:start + batch]:
            srv.intake.receive(data, ctx)
        srv.scheduler.pump()
        await asyncio.sleep(0)
    await srv.scheduler.join()


async def one_run(mode: str, store: str, clients: int, batch: int) -> tuple[float, float]:
    """µs per DORA for one fresh server: wall-clock time, and CPU time of the process
    (all its threads: less disturbed by other load on a shared machine)."""
    with tempfile.TemporaryDirectory() as directory:
        srv = DhcpServer(parse_config(config_yaml(mode, store, Path(directory))))
        sent: list[bytes] = []

        def send(out: Outgoing) -> bool:
            sent.append(out.data)
            return True

        srv.pipeline.send = send
        await srv.store.open()
        try:
            await srv.leases.load()
            srv.load_callouts()
            await srv.callouts.start()
            await srv.control(ControlCode.START)
            ctx = ReceiveContext("veth0", 2, SERVER, RELAY, 67)
            discovers = [request(MessageType.DISCOVER, n, xid=n + 1, giaddr=RELAY).encode()
                         for n in range(clients)]
            started, cpu_started = time.perf_counter(), time.process_time()
            await feed(srv, discovers, ctx, batch)
            discover_time = time.perf_counter() - started
            discover_cpu = time.process_time() - cpu_started
            offers = [DhcpMessage.parse(data) for data in sent]
            sent.clear()
            requests = [request(MessageType.REQUEST, offer.xid - 1, xid=offer.xid,
                                giaddr=RELAY, requested=offer.yiaddr,
                                server_id=SERVER).encode() for offer in offers]
            started, cpu_started = time.perf_counter(), time.process_time()
            await feed(srv, requests, ctx, batch)
            request_time = time.perf_counter() - started
            request_cpu = time.process_time() - cpu_started
            acks = sum(DhcpMessage.parse(data).message_type is MessageType.ACK
                       for data in sent)
            if len(offers) != clients or acks != clients:
                raise SystemExit(f"{mode}: {len(offers)} offers, {acks} ACKs for {clients} "
                                 f"clients; stats {srv.stats.snapshot()}")
            await srv.control(ControlCode.STOP)
        finally:
            await srv.callouts.aclose()
            await srv.store.close()
    return ((discover_time + request_time) / clients * 1e6,
            (discover_cpu + request_cpu) / clients * 1e6)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callouts", default="none,async",
                        help=f"comma-separated modes out of {', '.join(MODES)}")
    parser.add_argument("--store", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--no-warmup", action="store_true",
                        help="skip the warm-up run of each mode (bench/instructions_bench.py "
                             "counts whole processes)")
    args = parser.parse_args()
    modes = args.callouts.split(",")
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    configure_logging("warning", "json")
    for mode in [] if args.no_warmup else modes:  # warm up: imports, first-use caches
        await one_run(mode, args.store, min(args.clients, 500), args.batch)
    wall: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    for rep in range(args.repeat):
        # Side by side, the order reversed every other time: drift hits all modes alike.
        for mode in modes if rep % 2 == 0 else modes[::-1]:
            elapsed, used = await one_run(mode, args.store, args.clients, args.batch)
            wall[mode].append(elapsed)
            cpu[mode].append(used)
    print(f"{args.clients} clients, {args.store} store, batch {args.batch}, "
          f"median of {args.repeat}: µs per DORA (min-max); overhead vs {modes[0]} "
          f"(median of the per-repetition ratios)")
    for label, results in (("wall", wall), ("cpu", cpu)):
        for mode in modes:
            median = statistics.median(results[mode])
            spread = f"{min(results[mode]):.1f}-{max(results[mode]):.1f}"
            ratio = statistics.median(
                mine / base for mine, base in zip(results[mode], results[modes[0]], strict=True))
            print(f"  {label:4} {mode:9} {median:7.1f} ({spread:>13})  "
                  f"{(ratio - 1) * 100:+6.1f} %")

if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
