"""Lease store backends behind one interface."""

from .base import LeaseStore
from .memory import MemoryLeaseStore
from .sqlite import SqliteLeaseStore

__all__ = ["LeaseStore", "MemoryLeaseStore", "SqliteLeaseStore"]
