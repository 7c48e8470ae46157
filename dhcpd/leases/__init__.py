"""Leases: the record, pools and allocation, the lease manager and its stores."""

from .manager import LeaseManager
from .model import (
    INFINITE,
    Client,
    ClientKey,
    CommitOutcome,
    CommitResult,
    Lease,
    LeaseState,
    Offer,
    client_key,
)

__all__ = [
    "INFINITE", "Client", "ClientKey", "CommitOutcome", "CommitResult", "Lease", "LeaseManager",
    "LeaseState", "Offer", "client_key",
]
