"""In-process DORA cost: the protocol engine and lease manager without sockets.

    python bench/protocol_bench.py [--store memory|sqlite] [--clients 10000]

Prints CPU microseconds per DORA (DISCOVER + REQUEST, parse and encode included;
process CPU time, so other load on the machine matters less),
so the Python cost of an exchange can be told apart from the network's.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from ipaddress import IPv4Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dhcpd.config import parse_config
from dhcpd.leases import LeaseManager
from dhcpd.leases.stores import LeaseStore, MemoryLeaseStore, SqliteLeaseStore
from dhcpd.logsetup import configure_logging
from dhcpd.protocol import DhcpProtocol, ReceiveContext
from dhcpd.wire import DhcpMessage, MessageType
from tests.factories import request

CONFIG = """
lease_store: {type: memory}
subnets:
  - subnet: 198.18.0.0/16
    pools: [{range: 198.18.0.10-198.18.255.250}]
    options: {routers: [198.18.0.1]}
"""
SERVER = IPv4Address("192.0.2.1")
RELAY = IPv4Address("198.18.0.2")


async def run(store: LeaseStore, clients: int, concurrency: int) -> float:
    config = parse_config(CONFIG)
    await store.open()
    manager = LeaseManager(store, config.subnets)
    protocol = DhcpProtocol(manager, config)
    ctx = ReceiveContext("veth0", 2, SERVER, RELAY, 67)
    discovers = [request(MessageType.DISCOVER, n, xid=n, giaddr=RELAY).encode()
                 for n in range(clients)]

    async def one(n: int) -> None:
        offer = await protocol.handle(DhcpMessage.parse(discovers[n]), ctx, time.time())
        assert offer.reply is not None
        offer_bytes = offer.reply.message.encode()
        yiaddr = DhcpMessage.parse(offer_bytes).yiaddr
        req = request(MessageType.REQUEST, n, xid=n, giaddr=RELAY, requested=yiaddr,
                      server_id=SERVER).encode()
        ack = await protocol.handle(DhcpMessage.parse(req), ctx, time.time())
        assert ack.reply is not None
        ack.reply.message.encode()

    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(clients):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            await one(queue.get_nowait())

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.process_time() - started
    await store.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["memory", "sqlite"], default="memory")
    parser.add_argument("--clients", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="report the median of N runs")
    args = parser.parse_args()
    configure_logging("warning", "json")
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            store: LeaseStore = MemoryLeaseStore() if args.store == "memory" else \
                SqliteLeaseStore(Path(tmp) / "leases.sqlite3")
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            runs.append(asyncio.run(run(store, args.clients, args.concurrency)))
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    elapsed = statistics.median(runs)
    per = elapsed / args.clients * 1e6
    print(f"{args.store}: median of {args.repeat}: {args.clients} DORA in {elapsed:.2f}s = "
          f"{per:.1f} us/DORA "
          f"({args.clients / elapsed:.0f} DORA/s; includes building the test's requests)")


if __name__ == "__main__":
    main()
