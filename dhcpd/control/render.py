"""Human-readable output of `dhcpd ctl` (the `--json` option prints the raw response)."""

from __future__ import annotations

from typing import Any

from .models import INFINITE_LEASE, ControlResponse


def duration(seconds: float) -> str:
    if seconds >= INFINITE_LEASE:
        return "infinite"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def lease_lines(lease: dict[str, Any]) -> list[str]:
    return [
        f"  address:    {lease['address']}",
        f"  hw_address: {lease['hw_address']}",
        f"  client_id:  {lease['client_id'] or '-'}",
        f"  subnet_id:  {lease['subnet_id']}",
        f"  state:      {lease['state']}",
        f"  remaining:  {duration(lease['remaining'])}",
        f"  hostname:   {lease['hostname'] or '-'}",
    ]


def _status(args: dict[str, Any]) -> list[str]:
    state = "PAUSED" if args["paused"] else "serving"
    lines = [f"dhcpd {args['version']}, pid {args['pid']}, up {duration(args['uptime'])}, {state}"]
    lines.append("subnets:")
    for subnet in args["subnets"]:
        pools = ", ".join(subnet["pools"]) or "no pools"
        lines.append(f"  {subnet['id']}: {subnet['subnet']} ({pools})")
    counts = ", ".join(f"{count} {state}" for state, count in args["leases"].items())
    lines.append(f"leases: {counts}")
    return lines


def _leases(args: dict[str, Any]) -> list[str]:
    leases = args["leases"]
    lines = []
    if leases:
        rows = [["ADDRESS", "HW ADDRESS", "STATE", "REMAINING", "SUBNET", "HOSTNAME"]]
        rows += [[lease["address"], lease["hw_address"], lease["state"],
                  duration(lease["remaining"]), str(lease["subnet_id"]),
                  lease["hostname"] or "-"] for lease in leases]
        lines += _table(rows)
    lines.append(f"{args['count']} of {args['matched']} lease(s) shown")
    return lines


def _counters(title: str, counts: dict[str, int]) -> str:
    body = ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"
    return f"{title}: {body}"


def _statistics(args: dict[str, Any]) -> list[str]:
    lines = [
        _counters("received", args["received"]),
        _counters("sent", args["sent"]),
        _counters("dropped", args["dropped"]),
        f"queued: {args['queued']}",
    ]
    store = args.get("store")
    if store:
        mean = store["total_commit_seconds"] / store["commits"] if store["commits"] else 0.0
        last = store["last_commit_seconds"]
        lines.append(f"store: {store['commits']} commit(s), {store['rows']} row(s), "
                     f"mean {mean * 1000:.2f} ms, last {last * 1000:.2f} ms")
    if args["pools"]:
        rows = [["SUBNET", "POOL", "SIZE", "ACTIVE", "DECLINED", "FREE", "USED"]]
        rows += [[p["subnet"], p["pool"], str(p["size"]), str(p["active"]), str(p["declined"]),
                  str(p["free"]), f"{p['utilisation'] * 100:.1f}%"] for p in args["pools"]]
        lines += _table(rows)
    return lines


def render(command: str, response: ControlResponse) -> list[str]:
    """The lines to print for a response to `command`."""
    args = response.arguments
    if response.result == "error":
        lines = [f"error: {response.text}"]
        lines += [f"  {error}" for error in args.get("errors", [])]
        return lines
    if command == "status":
        return _status(args)
    if command == "leases-list":
        return _leases(args)
    if command == "statistics":
        return _statistics(args)
    if "lease" in args:
        return [response.text, *lease_lines(args["lease"])]
    return [response.text]
