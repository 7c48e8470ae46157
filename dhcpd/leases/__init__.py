"""Leases: the record, pools and allocation, the lease manager and its stores."""

from .manager import Client, CommitOutcome, CommitResult, LeaseManager, Offer
from .model import INFINITE, ClientKey, Lease, LeaseState, client_key

__all__ = [
    "INFINITE", "Client", "ClientKey", "CommitOutcome", "CommitResult", "Lease", "LeaseManager",
    "LeaseState", "Offer", "client_key",
]
