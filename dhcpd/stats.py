"""Counters the daemon keeps (exported as metrics once the metrics endpoint exists)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dhcpd.protocol import DropReason


@dataclass
class ServerStats:
    received: Counter[str] = field(default_factory=Counter)  # by message type name
    sent: Counter[str] = field(default_factory=Counter)
    dropped: Counter[DropReason] = field(default_factory=Counter)
    # NOMEM/TIMEOUT drops not reported to packet_drop because too many reports
    # were already waiting for the hook
    drop_reports_lost: int = 0

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {
            "received": dict(self.received),
            "sent": dict(self.sent),
            "dropped": {reason.name: count for reason, count in self.dropped.items()},
        }
