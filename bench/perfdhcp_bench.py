#!/usr/bin/env python3
"""DORA throughput benchmark with perfdhcp against kea-dhcp4 and/or dhcpd.

Run by hand as root (it creates network namespaces; nothing touches host interfaces):

    python bench/perfdhcp_bench.py --server kea|dhcpd|both \\
        --rates 2000,5000,10000,15000 --duration 10

Layout (see shared/design/testing-notes.md): server namespace with 192.0.2.1/24 on its
veth, routing 198.18.0.0/15 via 192.0.2.2; client namespace with 192.0.2.2/24 and
198.18.0.2/16 where perfdhcp acts as a relay agent (giaddr 198.18.0.2, port 67). The
server is pinned to CPU 0, perfdhcp to CPU 1. Each rate gets a freshly started server
with an empty lease store. ACKs/s are counted over the test period (perfdhcp's own
``Rate:`` line also divides by the exit wait and reads ~5% low).

Comparing configurations on this noisy VM: `--repeat N` runs the whole plan N
times, alternating the order each time, and `--callouts none,async` benches
dhcpd once per mode; the summary gives each one's clean rate per repetition,
the median, and the ratio of medians against the first:

    python bench/perfdhcp_bench.py --server dhcpd --callouts none,async --repeat 3 \
        --rates 2000,2750,3000,3250,3500 --saturation-rate 0
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.integration.netns import (  # noqa: E402
    RELAY_ADDR,
    KeaServer,
    Namespace,
    NetnsError,
    VethLink,
    make_kea_config,
    make_relay_pair,
    netns_available,
    parse_perfdhcp,
)

SERVER_IP = "192.0.2.1"
SUBNET = "198.18.0.0/16"
POOL_START, POOL_END = "198.18.0.10", "198.18.255.250"
ROUTER = "198.18.0.1"
LEASE_TIME = 3600


CALLOUT_MODES = ("none", "async", "plain", "isolated")


@dataclass
class RunResult:
    server: str
    rate: int
    duration: int
    discover_sent: int
    offer_received: int
    request_sent: int
    ack_received: int
    acks_per_s: float
    incomplete_pct: float
    perfdhcp_rc: int
    saturation: bool = False
    cpu_us_per_ack: float | None = None  # server CPU (all threads, user+system) per ACK
    repetition: int = 0


def _cpu_fields(stat: Path) -> tuple[str, float, float]:
    text = stat.read_text()
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return name, int(fields[11]) / tick, int(fields[12]) / tick


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process and its threads, from /proc/PID/stat."""
    try:
        _name, user, system = _cpu_fields(Path(f"/proc/{pid}/stat"))
    except OSError:
        return None
    return user + system


def thread_cpu_seconds(pid: int) -> dict[str, tuple[float, float]]:
    """(user, system) seconds per thread name, for the breakdown printed with -v."""
    out: dict[str, tuple[float, float]] = {}
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            name, user, system = _cpu_fields(stat)
        except OSError:
            continue
        name = "main" if stat.parent.name == str(pid) else f"{name}/{stat.parent.name}"
        out[name] = (user, system)
    return out


NOOP_CALLOUT = Path(__file__).resolve().parent / "noop_callout.py"


def callouts_yaml(mode: str) -> str:
    """A callouts section filling every slot with a no-op hook (mode: async, plain, isolated)."""
    if mode == "none":
        return ""
    isolated = mode == "isolated"  # async no-op hooks in a worker process
    return (
        "callouts:\n  enabled: true\n"
        f"  modules: [{NOOP_CALLOUT}]\n"
        f"  settings: {{{NOOP_CALLOUT}: {{mode: {'async' if isolated else mode}}}}}\n"
        + ("  isolation: process\n" if isolated else "")
    )


def dhcpd_config_yaml(
    interface: str, lease_store: str, lease_path: Path, callouts: str = "none",
    server_settings: tuple[str, ...] = (), control_socket: Path | None = None,
) -> str:
    """The dhcpd YAML config for the benchmark pool (written by hand: no PyYAML needed)."""
    store = f"  type: {lease_store}\n"
    if lease_store == "sqlite":
        store += f"  path: {lease_path}\n"
    return (
        "server:\n"
        f"  interfaces: [{interface}]\n"
        "  port: 67\n"
        "  authoritative: true\n"
        + "".join(f"  {setting}\n" for setting in server_settings)
        + "lease_store:\n"
        f"{store}"
        + (f"control:\n  socket: {control_socket}\n" if control_socket else "")
        + "logging:\n"
        "  level: warning\n"
        "subnets:\n"
        f"  - subnet: {SUBNET}\n"
        "    pools:\n"
        f"      - range: {POOL_START}-{POOL_END}\n"
        f"    lease_time: {LEASE_TIME}\n"
        "    options:\n"
        f"      routers: [{ROUTER}]\n"
        + callouts_yaml(callouts)
    )


def kea_bench_config(
    interface: str, threads: int | None, socket_type: str = "raw"
) -> dict[str, Any]:
    """The Kea config for the same pool (memfile, not persisted, WARN logging)."""
    return make_kea_config(
        interface,
        subnet=SUBNET,
        pool=f"{POOL_START}-{POOL_END}",
        valid_lifetime=LEASE_TIME,
        renew_timer=None,
        rebind_timer=None,
        routers=[ROUTER],
        severity="WARN",
        threads=threads,
        socket_type=socket_type,
    )


class DhcpdServer:
    """``python -m dhcpd --config CONFIG.yaml`` in the server namespace, pinned to a CPU."""

    def __init__(
        self,
        ns: Namespace,
        interface: str,
        workdir: Path,
        lease_store: str,
        cpu: int,
        profile: Path | None,
        python: str,
        callouts: str = "none",
        server_settings: tuple[str, ...] = (),
    ) -> None:
        self.ns = ns
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "dhcpd.yaml"
        self.log_path = self.dir / "dhcpd.log"
        self.control_socket = self.dir / "control.sock"
        self.config_path.write_text(
            dhcpd_config_yaml(interface, lease_store, self.dir / "leases.sqlite3", callouts,
                              server_settings, self.control_socket)
        )
        self.cpu = cpu
        self.profile = profile
        self.python = python
        self.proc: subprocess.Popen[Any] | None = None
        self._logf: Any = None

    def argv(self) -> list[str]:
        server = ["-m", "dhcpd", "--config", str(self.config_path)]
        pin = ["taskset", "-c", str(self.cpu)]
        if self.profile is None:
            return [*pin, self.python, *server]
        if shutil.which("py-spy"):
            return [
                *pin, "py-spy", "record", *(["--native"] if os.environ.get("PYSPY_NATIVE") else []),
                "--format", "speedscope",
                "-o", str(self.profile), "--", self.python, *server,
            ]  # fmt: skip
        return [*pin, self.python, "-m", "cProfile", "-o", str(self.profile), *server]

    def start(self, timeout: float = 20.0) -> DhcpdServer:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self._logf = self.log_path.open("ab")
        self.proc = self.ns.popen(
            self.argv(), stdout=self._logf, stderr=subprocess.STDOUT, env=env, cwd=str(REPO)
        )
        try:
            self.ns.wait_udp_listening(67, timeout=timeout)
        except TimeoutError:
            self.stop()
            raise NetnsError(f"dhcpd did not start:\n{self.log()}") from None
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stats(self) -> dict[str, Any] | None:
        """The daemon's counters (`dhcpd ctl stats`), read before it is stopped."""
        res = subprocess.run(
            [self.python, "-m", "dhcpd", "ctl", "--socket", str(self.control_socket), "--json",
             "stats"], capture_output=True, text=True, timeout=30, cwd=str(REPO), check=False)
        if res.returncode != 0:
            return None
        try:
            stats: dict[str, Any] = json.loads(res.stdout)
        except ValueError:
            return None
        return stats

    def stop(self) -> None:
        if self.proc is not None:
            # SIGINT first so a profiler (py-spy / cProfile) writes its output
            sig = signal.SIGINT if self.profile is not None else signal.SIGTERM
            self.ns.stop(self.proc, timeout=20.0 if self.profile else 5.0, sig=sig)
            self.proc = None
        if self._logf is not None:
            self._logf.close()
            self._logf = None


def counters_line(stats: dict[str, Any]) -> str:
    """received / sent / dropped by kind, from `dhcpd ctl stats --json`."""
    parts = []
    for key in ("received", "sent", "dropped"):
        counts = stats.get(key)
        if isinstance(counts, dict):
            shown = ", ".join(f"{kind} {count}" for kind, count in counts.items() if count)
            parts.append(f"{key}: {shown or 'none'}")
    return "; ".join(parts) or json.dumps(stats)[:300]


def run_perfdhcp(link: VethLink, rate: int, duration: int, clients: int) -> tuple[Any, str]:
    args = [
        "taskset", "-c", "1", "perfdhcp", "-4", "-g", "single", "-l", RELAY_ADDR,
        "-R", str(clients), "-p", str(duration), "-W", "1000000", "-r", str(rate), SERVER_IP,
    ]  # fmt: skip
    res = link.client_ns.run(args, check=False, timeout=duration + 60)
    out = res.stdout + res.stderr
    if res.returncode not in (0, 3):
        raise NetnsError(f"perfdhcp exited {res.returncode}:\n{out}")
    return parse_perfdhcp(out, res.returncode), out


def bench_server(
    kind: str, rates: list[int], saturation_rate: int, args: argparse.Namespace, out_dir: Path
) -> list[RunResult]:
    results: list[RunResult] = []
    plan = [(r, False) for r in rates]
    if saturation_rate > 0:
        plan.append((saturation_rate, True))
    with make_relay_pair(f"bench-{kind}") as link:
        for i, (rate, sat) in enumerate(plan):
            workdir = link.tmpdir / f"{kind}-{i}"
            server: KeaServer | DhcpdServer
            if kind == "kea":
                server = KeaServer(
                    link.server_ns,
                    kea_bench_config(link.server_if, args.kea_threads, args.kea_socket),
                    workdir=workdir,
                    cpu=0,
                )
            else:
                profile = None
                if args.profile:
                    ext = "speedscope.json" if shutil.which("py-spy") else "pstats"
                    profile = out_dir / f"dhcpd-profile-r{rate}.{ext}"
                server = DhcpdServer(
                    link.server_ns,
                    link.server_if,
                    workdir,
                    args.lease_store,
                    cpu=0,
                    profile=profile,
                    python=args.python,
                    callouts=args.callouts,
                    server_settings=tuple(args.server_setting),
                )
            server.start()
            try:
                time.sleep(0.5)
                pid = server.proc.pid if server.proc is not None and not args.profile else None
                cpu_before = process_cpu_seconds(pid) if pid else None
                threads_before = thread_cpu_seconds(pid) if pid else {}
                parsed, raw = run_perfdhcp(link, rate, args.duration, args.clients)
                cpu_after = process_cpu_seconds(pid) if pid else None
                if args.verbose and pid and parsed.ack_received:
                    for name, (user, system) in sorted(thread_cpu_seconds(pid).items()):
                        user0, system0 = threads_before.get(name, (0.0, 0.0))
                        per_ack = 1e6 / parsed.ack_received
                        print(f"    thread {name!r}: user {(user - user0) * per_ack:.0f}"
                              f" system {(system - system0) * per_ack:.0f} us/ACK")
                (out_dir / f"perfdhcp-{kind}-r{rate}{'-sat' if sat else ''}.txt").write_text(raw)
                alive = server.proc is not None and server.proc.poll() is None
                if alive and isinstance(server, DhcpdServer):
                    stats = server.stats()
                    if stats is not None:
                        (out_dir / f"dhcpd-r{rate}{'-sat' if sat else ''}-stats.json"
                         ).write_text(json.dumps(stats, indent=1))
                        if args.verbose:
                            print(f"    counters: {counters_line(stats)}")
            finally:
                server.stop()
            if kind == "dhcpd":  # its log (warnings, final stats) beside perfdhcp's output
                (out_dir / f"dhcpd-r{rate}{'-sat' if sat else ''}.log").write_text(server.log())
            if not alive:
                print(f"warning: {kind} exited during the run:\n{server.log()}", file=sys.stderr)
            r = RunResult(
                server=kind,
                rate=rate,
                duration=args.duration,
                discover_sent=parsed.discover_sent,
                offer_received=parsed.offer_received,
                request_sent=parsed.request_sent,
                ack_received=parsed.ack_received,
                acks_per_s=parsed.ack_received / args.duration,
                incomplete_pct=parsed.incomplete_pct,
                perfdhcp_rc=parsed.returncode,
                saturation=sat,
                cpu_us_per_ack=(cpu_after - cpu_before) * 1e6 / parsed.ack_received
                if cpu_before is not None and cpu_after is not None and parsed.ack_received
                else None,
            )
            results.append(r)
            print(
                f"  {kind:6} rate {rate:>6}/s{' (saturation)' if sat else ''}: "
                f"{r.acks_per_s:9.0f} ACK/s, {r.incomplete_pct:6.2f}% incomplete"
                + (f", {r.cpu_us_per_ack:5.0f} us CPU/ACK" if r.cpu_us_per_ack else ""),
                flush=True,
            )
            time.sleep(0.5)
    return results


def summarize(results: list[RunResult]) -> dict[str, dict[str, float | None]]:
    summary: dict[str, dict[str, float | None]] = {}
    for kind in sorted({r.server for r in results}):
        rs = [r for r in results if r.server == kind]
        held = [r.rate for r in rs if r.incomplete_pct < 1.0 and not r.saturation]
        summary[kind] = {
            "highest_rate_held_under_1pct": max(held) if held else None,
            "saturated_acks_per_s": max(r.acks_per_s for r in rs) if rs else None,
        }
    return summary


def compare_repetitions(results: list[RunResult], labels: list[str]) -> dict[str, Any]:
    """Each configuration's clean rate per repetition, the medians, and their ratio to
    the first configuration's (a repetition with no rate held counts as 0)."""
    by_label: dict[str, Any] = {}
    for label in labels:
        clean = []
        for rep in sorted({r.repetition for r in results}):
            held = [r.rate for r in results if r.server == label and r.repetition == rep
                    and r.incomplete_pct < 1.0 and not r.saturation]
            clean.append(max(held) if held else 0)
        by_label[label] = {"clean_rates": clean, "median": statistics.median(clean)}
    first = by_label[labels[0]]["median"]
    for entry in by_label.values():
        entry["ratio_to_first"] = entry["median"] / first if first else None
    return by_label


def print_table(results: list[RunResult], summary: dict[str, dict[str, float | None]]) -> None:
    hdr = (
        f"{'server':16}{'offered/s':>11}{'DISC sent':>11}{'ACK recv':>10}"
        f"{'ACK/s':>9}{'incompl%':>10}"
    )
    print()
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        tag = " sat" if r.saturation else ""
        print(
            f"{r.server:16}{r.rate:>11}{r.discover_sent:>11}{r.ack_received:>10}"
            f"{r.acks_per_s:>9.0f}{r.incomplete_pct:>10.2f}{tag}"
        )
    print()
    for kind, s in summary.items():
        held = s["highest_rate_held_under_1pct"]
        sat = s["saturated_acks_per_s"]
        print(
            f"{kind}: highest rate held with <1% incomplete: "
            f"{'none' if held is None else f'{held:.0f}/s'}; "
            f"saturated: {'n/a' if sat is None else f'{sat:.0f} ACK/s'}"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--server", choices=["kea", "dhcpd", "both"], default="both")
    p.add_argument("--rates", default="2000,5000,10000,15000", help="comma-separated DORA/s")
    p.add_argument("--duration", type=int, default=10, help="perfdhcp -p seconds per rate")
    p.add_argument("--clients", type=int, default=10000, help="perfdhcp -R distinct clients")
    p.add_argument(
        "--saturation-rate",
        type=int,
        default=40000,
        help="extra run at this offered rate to find the saturated ACK/s (0: skip)",
    )
    p.add_argument("--lease-store", choices=["sqlite", "memory"], default="sqlite")
    p.add_argument(
        "--callouts", default="none",
        help="dhcpd: none, or a no-op hook in every slot: async, plain (threaded) or "
        "isolated (async, in a worker process); comma-separated to bench each",
    )
    p.add_argument("--repeat", type=int, default=1,
                   help="run the whole plan this many times, alternating the order")
    p.add_argument("--kea-threads", type=int, default=None, help="Kea multi-threading")
    p.add_argument(
        "--kea-socket", choices=["raw", "udp"], default="raw", help="Kea dhcp-socket-type"
    )
    p.add_argument("--server-setting", action="append", default=[], metavar="'KEY: VALUE'",
                   help="dhcpd: an extra line under server: (e.g. 'queue_size: 256'); repeatable")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="per-thread CPU (user/system) per ACK")
    p.add_argument("--profile", action="store_true", help="profile dhcpd (py-spy or cProfile)")
    p.add_argument("--python", default=sys.executable, help="interpreter for dhcpd")
    p.add_argument("--out-dir", type=Path, default=None, help="raw outputs and profiles")
    p.add_argument("--json", type=Path, default=None, help="results JSON file")
    args = p.parse_args(argv)

    reason = netns_available()
    if reason is not None:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    for tool in ("perfdhcp", "taskset") + (("kea-dhcp4",) if args.server != "dhcpd" else ()):
        if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            print(f"cannot run: {tool} not found", file=sys.stderr)
            return 2
    rates = [int(x) for x in args.rates.split(",") if x.strip()]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = args.out_dir or Path(tempfile.gettempdir()) / f"perfdhcp-bench-{stamp}"
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.json or out_dir / "results.json"

    servers = ["kea", "dhcpd"] if args.server == "both" else [args.server]
    modes = args.callouts.split(",")
    if unknown := set(modes) - set(CALLOUT_MODES):
        p.error(f"--callouts: unknown {', '.join(sorted(unknown))}")
    # (label, server, callout mode): dhcpd once per mode, labelled by it if several
    plan = [(kind if kind == "kea" or len(modes) == 1 else f"dhcpd/{mode}", kind, mode)
            for kind in servers for mode in (modes if kind == "dhcpd" else modes[:1])]
    results: list[RunResult] = []
    for rep in range(args.repeat):
        # Side by side, the order reversed every other time: drift hits all alike.
        for label, kind, mode in plan if rep % 2 == 0 else plan[::-1]:
            print(f"== {label}{f' (repetition {rep + 1})' if args.repeat > 1 else ''}: "
                  f"rates {rates}, {args.duration}s each, {args.clients} clients")
            run_dir = out_dir / f"{label.replace('/', '-')}-{rep + 1}" if (
                args.repeat > 1 or len(plan) > len(servers)) else out_dir
            run_dir.mkdir(parents=True, exist_ok=True)
            run_args = argparse.Namespace(**{**vars(args), "callouts": mode})
            results += [replace(r, server=label, repetition=rep) for r in
                        bench_server(kind, rates, args.saturation_rate, run_args, run_dir)]
    summary = summarize(results)
    print_table(results, summary)
    comparison = compare_repetitions(results, [label for label, _, _ in plan])
    if args.repeat > 1 or len(plan) > 1:
        print("\nclean rate (< 1 % incomplete) per repetition, median, ratio to the first:")
        for label, entry in comparison.items():
            ratio = entry["ratio_to_first"]
            print(f"  {label:16} {', '.join(f'{c:.0f}' for c in entry['clean_rates']):28} "
                  f"median {entry['median']:.0f}/s"
                  + ("" if ratio is None else f"  ({ratio:.2f})"))
    doc = {
        "started": stamp,
        "duration_s": args.duration,
        "clients": args.clients,
        "lease_store": args.lease_store,
        "kea_threads": args.kea_threads,
        "results": [asdict(r) for r in results],
        "summary": summary,
        "comparison": comparison,
    }
    json_path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nresults: {json_path}\nraw perfdhcp output: {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
