"""The command line: run the daemon, or check a configuration."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from dhcpd.config import RuntimeConfig, load_config
from dhcpd.errors import ConfigError, DhcpdError
from dhcpd.hooks.loader import load_callouts
from dhcpd.logsetup import configure_logging
from dhcpd.transport import TransportError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dhcpd", description="An asyncio DHCPv4 server with a callout API."
    )
    parser.add_argument("--config", "-c", type=Path, help="the YAML configuration file")
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error", "critical"],
        help="override logging.level of the configuration",
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the daemon in the foreground (the default)")
    run.add_argument("run_config", nargs="?", type=Path, metavar="CONFIG")
    check = sub.add_parser("check-config", help="validate a configuration and exit")
    check.add_argument("path", type=Path)
    # `dhcpd ctl ...` is handed whole to dhcpd/control/client.py (see main).
    ctl = sub.add_parser("ctl", add_help=False,
                         help="talk to a running daemon: status, leases, pause, reload...")
    ctl.add_argument("ctl_args", nargs=argparse.REMAINDER)
    return parser


def check_config(path: Path) -> int:
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"{path}: {len(exc.errors)} error(s)", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    pools = sum(len(s.pools) for s in config.subnets)
    if not check_callouts(config):
        return 1
    print(f"{path}: OK ({len(config.subnets)} subnet(s), {pools} pool(s))")
    return 0


def check_callouts(config: RuntimeConfig) -> bool:
    """Load the configured callouts as the daemon would and say what would be active.

    The entry functions run (no START is sent). Enabled callouts of which none
    loads are an error here, though the daemon itself would serve without them.
    """
    settings = config.source.callouts
    if not settings.enabled or not settings.modules:
        print("callouts: disabled" if not settings.enabled else "callouts: none configured")
        return True
    configure_logging("critical")  # the report below says it all
    report = load_callouts(settings.modules, settings.settings)
    for entry, reason in report.failures:
        print(f"callouts: {entry}: not loaded: {reason}")
    if report.active is None:
        print("callouts: enabled, but no module loaded", file=sys.stderr)
        return False
    active = report.active
    print(f"callouts: active module {active.entry}")
    print(f"  hooks: {', '.join(active.table.filled()) or '(none)'}")
    print(f"  chain: {', '.join(active.chain) or '(empty)'}")
    return True


def run(config_path: Path, log_level: str | None) -> int:
    try:
        config: RuntimeConfig = load_config(config_path)
    except ConfigError as exc:
        print(f"{config_path}: configuration rejected, nothing was started:", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 2
    configure_logging(log_level or config.logging.level, config.logging.format)
    from dhcpd.app import DhcpServer  # after logging is set up

    async def main() -> None:
        await DhcpServer(config, config_path).run()

    try:
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency
            asyncio.run(main())
        else:
            uvloop.run(main())
    except (TransportError, DhcpdError) as exc:
        print(f"dhcpd: {exc}", file=sys.stderr)
        return 1
    _exit_past_hung_callouts(0)
    return 0


def _exit_past_hung_callouts(code: int) -> None:
    """Leave now if a plain hook still runs in its thread past its deadline.

    The leases are committed and the store closed by now; Python would wait
    at exit for that thread forever. Nothing is left to lose, so exit hard.
    """
    hung = [t.name for t in threading.enumerate() if t.name.startswith("callout") and t.is_alive()]
    if hung:
        print(f"dhcpd: not waiting for {len(hung)} callout thread(s) still running",
              file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["ctl"]:  # the control client has its own options
        from dhcpd.control.client import main as ctl_main

        return ctl_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "ctl":
        from dhcpd.control.client import main as ctl_main

        return ctl_main(args.ctl_args)
    if args.command == "check-config":
        return check_config(args.path)
    path = args.config or getattr(args, "run_config", None)
    if path is None:
        _parser().error("give --config PATH (or: dhcpd check-config PATH)")
    return run(path, args.log_level)
