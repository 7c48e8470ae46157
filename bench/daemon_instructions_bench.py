"""CPU instructions per DORA of the whole daemon under perfdhcp, counted by valgrind.

perfdhcp's rates and the daemon's CPU time move by 10-20 % from run to run on a
shared VM, which hides a 10 % change. Instruction counts do not. This runs the
real daemon (sockets, uvloop, the SQLite store and its commit thread, the
transport) under `valgrind --tool=callgrind` in the benchmark's network
namespaces, serves a short and a long perfdhcp run at a rate it can keep up
with, and divides the difference in instructions by the difference in ACKs:
start-up and shutdown cancel out. Kernel work (system calls, the network
stack) is not counted: valgrind sees user space only.

Under valgrind the daemon runs ~50x slower, so the rate is low and each packet
mostly arrives alone: the count includes a wake-up per packet, as at low load,
not the batching of a saturated server. Use it to compare builds and changes;
confirm a gain in rates with perfdhcp_bench.py.

    python bench/daemon_instructions_bench.py                # this checkout
    python bench/daemon_instructions_bench.py --tree /tmp/other-checkout

Run by hand as root (network namespaces). Needs valgrind and kea-admin
(perfdhcp). Not part of the tests. Figures: bench/README.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import perfdhcp_bench as pb  # noqa: E402

COLLECTED = re.compile(r"Collected : (\d+)")


class CountedDhcpd(pb.DhcpdServer):
    """The daemon under callgrind; its log ends with valgrind's total."""

    def argv(self) -> list[str]:
        return ["taskset", "-c", str(self.cpu), "valgrind", "--tool=callgrind",
                f"--callgrind-out-file={self.dir}/callgrind.out", self.python,
                "-m", "dhcpd", "--config", str(self.config_path)]

    def stop(self) -> None:
        if self.proc is not None:  # SIGTERM: a clean exit, so valgrind writes its total
            self.ns.stop(self.proc, timeout=300.0, sig=signal.SIGTERM)
            self.proc = None
        if self._logf is not None:
            self._logf.close()
            self._logf = None

    def instructions(self) -> int:
        found = COLLECTED.findall(self.log())
        if not found:
            raise SystemExit(f"no instruction count in the daemon's log:\n{self.log()[-3000:]}")
        return int(found[-1])


def count(link: pb.VethLink, args: argparse.Namespace, duration: int, n: int) -> tuple[int, int]:
    """(instructions, ACKs) of one daemon run serving `duration` seconds of perfdhcp."""
    server = CountedDhcpd(link.server_ns, link.server_if, link.tmpdir / f"run-{n}",
                          args.lease_store, cpu=0, profile=None, python=args.python,
                          callouts=args.callouts)
    server.start(timeout=600.0)
    try:
        parsed, _ = pb.run_perfdhcp(link, args.rate, duration, args.clients)
    finally:
        server.stop()
    if parsed.ack_received < parsed.discover_sent * 0.99:
        raise SystemExit(f"{parsed.ack_received} ACKs for {parsed.discover_sent} DISCOVERs at "
                         f"{args.rate}/s: the counted daemon cannot keep up; lower --rate")
    return server.instructions(), parsed.ack_received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=HERE.parent,
                        help="the checkout whose daemon is counted (PYTHONPATH)")
    parser.add_argument("--rate", type=int, default=20, help="DORA/s offered")
    parser.add_argument("--short", type=int, default=10, help="seconds of the short run")
    parser.add_argument("--long", type=int, default=40, help="seconds of the long run")
    parser.add_argument("--clients", type=int, default=10000)
    parser.add_argument("--lease-store", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--callouts", default="none", help="none, async, plain or isolated")
    parser.add_argument("--python", default=sys.executable, help="interpreter for dhcpd")
    parser.add_argument("--keep", type=Path, default=None,
                        help="copy both runs' callgrind output (short.out, long.out) to this "
                             "directory: callgrind_annotate each, and subtract")
    args = parser.parse_args()
    pb.REPO = args.tree.resolve()  # DhcpdServer puts REPO on the daemon's PYTHONPATH
    with pb.make_relay_pair("bench-vg") as link:
        short, short_acks = count(link, args, args.short, 0)
        long, long_acks = count(link, args, args.long, 1)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for n, name in ((0, "short"), (1, "long")):
                shutil.copy(link.tmpdir / f"run-{n}" / "callgrind.out", args.keep / f"{name}.out")
    per_dora = (long - short) / (long_acks - short_acks)
    print(f"{args.tree}: {args.lease_store} store, callouts {args.callouts}, {args.rate}/s: "
          f"{per_dora / 1000:.1f}k instructions per DORA "
          f"({short_acks} and {long_acks} ACKs; start-up and shutdown "
          f"{(short - short_acks * per_dora) / 1e6:.0f}M)")


if __name__ == "__main__":
    main()
