"""CPU instructions per DORA on the in-process packet path, counted by valgrind.

Timings on a shared VM move by 10-20 % from run to run; instruction counts do
not (per DORA, two runs agree within 0.3 %), whatever else the machine is doing. This
runs bench/callout_bench.py (the daemon's whole packet path without sockets,
one repetition, no warm-up) under `valgrind --tool=callgrind` twice per
mode, with `--small` and `--large` clients, and divides the difference by
the difference in clients: the instructions of one DORA, start-up and
imports cancelled out. Jobs run in parallel, one per CPU.

An instruction is not a nanosecond (cache misses, and valgrind executes
system calls and the vDSO clock its own way), so use it to compare changes
and modes, and confirm a gain in time with callout_bench.py or
perfdhcp_bench.py. Needs the Debian package valgrind. Not part of the tests.

    python bench/instructions_bench.py --callouts none,async
    python bench/instructions_bench.py --callouts none --tree /tmp/other-checkout

Figures (2026-11-24, memory store, 200 and 1,200 clients; bench/README.md):
none 760k instructions per DORA and async no-op hooks in every slot 923k
(+21.5 %) at the start of session 4; 729k and 857k (+17.5 %) after it;
561k and 682k (+21.5 %) compiled (setup.py, session 5).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLLECTED = re.compile(rb"Collected : (\d+)")


def count(tree: Path, mode: str, store: str, clients: int) -> int:
    """Instructions of one whole callout_bench.py process."""
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/out",
             sys.executable, str(tree / "bench" / "callout_bench.py"), "--callouts", mode,
             "--store", store, "--repeat", "1", "--no-warmup", "--clients", str(clients)],
            capture_output=True, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
            check=False,
        )
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{mode} with {clients} clients failed:\n"
                         f"{done.stderr.decode(errors='replace')[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callouts", default="none,async",
                        help="comma-separated modes (see callout_bench.py)")
    parser.add_argument("--store", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--large", type=int, default=1200)
    parser.add_argument("--tree", type=Path, default=HERE.parent,
                        help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    if args.large <= args.small:
        parser.error("--large must be more than --small")
    modes = args.callouts.split(",")
    jobs = [(mode, clients) for mode in modes for clients in (args.small, args.large)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts = dict(zip(jobs, pool.map(
            lambda job: count(args.tree.resolve(), job[0], args.store, job[1]), jobs),
            strict=True))
    per_dora = {mode: (counts[mode, args.large] - counts[mode, args.small])
                / (args.large - args.small) for mode in modes}
    print(f"{args.tree}: {args.store} store, instructions per DORA "
          f"({args.small} and {args.large} clients); overhead vs {modes[0]}")
    for mode in modes:
        print(f"  {mode:9} {per_dora[mode] / 1000:8.1f}k  "
              f"{(per_dora[mode] / per_dora[modes[0]] - 1) * 100:+6.1f} %")


if __name__ == "__main__":
    main()
