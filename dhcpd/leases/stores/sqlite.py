"""The embedded default lease store: one SQLite file, written with group commit.

Every write waits until its transaction is on disk before its caller goes
on, so a DHCPACK never leaves before its lease is durable. Writes are grouped:
the writes that arrive while one batch is being synced are committed together
as the next, one transaction and one fsync for many leases, so durability does
not cost throughput. The transaction runs on the event loop (it only writes to
the page cache); the fsync runs in a thread (walsync.py says why that is as
durable as synchronous=FULL).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Literal, cast

from dhcpd.errors import LeaseStoreError
from dhcpd.logsetup import get_logger
from dhcpd.wire import HardwareAddress
from dhcpd.wire.addresses import address_int

from ..model import Lease, LeaseState
from .base import LeaseStore
from .walsync import CHECKPOINT_INTERVAL, WalSync

log = get_logger("dhcpd.leases")

SCHEMA_VERSION = 1
BUSY_RETRY_DELAY = 0.01  # seconds between tries while another process holds the lock
BUSY_RETRY_SECONDS = 5.0  # then the batch fails (no ACK), as busy_timeout did

SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    address     INTEGER PRIMARY KEY,   -- IPv4 address as an unsigned integer
    client_key  BLOB    NOT NULL,
    htype       INTEGER NOT NULL,
    hw_address  BLOB    NOT NULL,
    client_id   BLOB,
    subnet_id   INTEGER NOT NULL,
    state       INTEGER NOT NULL,
    starts      REAL    NOT NULL,
    expires     REAL    NOT NULL,
    hostname    TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# The conditional upsert: overwrite only our own record or one that no longer
# holds the address (see may_overwrite in base.py). ACTIVE = 0, DECLINED = 3.
UPSERT = """
INSERT INTO leases (address, client_key, htype, hw_address, client_id, subnet_id,
                    state, starts, expires, hostname)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (address) DO UPDATE SET
    client_key = excluded.client_key, htype = excluded.htype,
    hw_address = excluded.hw_address, client_id = excluded.client_id,
    subnet_id = excluded.subnet_id, state = excluded.state, starts = excluded.starts,
    expires = excluded.expires, hostname = excluded.hostname
WHERE leases.state NOT IN (0, 3)
   OR leases.expires <= ?
   OR (leases.client_key = excluded.client_key AND leases.state != 3)
"""

# sqlite3 binds int, float, str and bytearray parameters as they are, but sends bytes
# and None through its adapter lookup first, which fails for them by raising and
# clearing an AttributeError: ~2.5k instructions a parameter, four per lease row. An
# adapter registered for each turns that into a dict hit and a C call that returns the
# value itself. Process-wide, but the identity: nothing binds differently.
sqlite3.register_adapter(bytes, bytes)
sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))  # {}.get(None)

COLUMNS = "address, client_key, htype, hw_address, client_id, subnet_id, state, starts, " \
    "expires, hostname"


def _row(lease: Lease, now: float) -> tuple[object, ...]:
    return (
        address_int(lease.address), lease.client_key, lease.hw_address.htype,
        lease.hw_address.address, lease.client_id, lease.subnet_id, int(lease.state),
        lease.starts, lease.expires, lease.hostname, now,
    )


def _lease(row: tuple[object, ...]) -> Lease:
    address, key, htype, hw, client_id, subnet_id, state, starts, expires, hostname = row
    assert isinstance(address, int) and isinstance(key, bytes) and isinstance(hw, bytes)
    assert isinstance(htype, int) and isinstance(subnet_id, int) and isinstance(state, int)
    assert isinstance(starts, float | int) and isinstance(expires, float | int)
    assert client_id is None or isinstance(client_id, bytes)
    assert hostname is None or isinstance(hostname, str)
    return Lease(
        address=IPv4Address(address), client_key=key, hw_address=HardwareAddress(htype, hw),
        client_id=client_id, subnet_id=subnet_id, state=LeaseState(state),
        starts=float(starts), expires=float(expires), hostname=hostname,
    )


@dataclass(slots=True, init=False)  # one per write: a compiled __init__ (see DhcpMessage)
class _Job:
    kind: Literal["write", "delete"]
    lease: Lease | None
    address: IPv4Address
    now: float
    future: asyncio.Future[bool]

    def __init__(
        self, kind: Literal["write", "delete"], lease: Lease | None, address: IPv4Address,
        now: float, future: asyncio.Future[bool],
    ) -> None:
        self.kind = kind
        self.lease = lease
        self.address = address
        self.now = now
        self.future = future


# Upper bounds (seconds) of the commit latency histogram (the metrics endpoint).
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class CommitStats:
    """Updated on the event loop when a batch is on disk; read there by the metrics."""

    commits: int = 0
    rows: int = 0
    total_commit_seconds: float = 0.0
    last_commit_seconds: float = 0.0
    # bucket_counts[i]: commits that took at most COMMIT_BUCKETS[i] (not cumulative);
    # the last entry counts the slower ones.
    bucket_counts: list[int] = field(default_factory=lambda: [0] * (len(COMMIT_BUCKETS) + 1))

    def observe(self, seconds: float, rows: int) -> None:
        self.bucket_counts[bisect.bisect_left(COMMIT_BUCKETS, seconds)] += 1
        self.rows += rows
        self.total_commit_seconds += seconds
        self.last_commit_seconds = seconds
        self.commits += 1


class SqliteLeaseStore(LeaseStore):
    def __init__(
        self,
        path: str | Path,
        commit_delay_ms: float = 2.0,
        max_batch: int = 1024,
        checkpoint_interval: float = CHECKPOINT_INTERVAL,
    ) -> None:
        self.path = Path(path)
        self.checkpoint_interval = checkpoint_interval
        self.commit_delay = commit_delay_ms / 1000.0
        self.max_batch = max_batch
        self.stats = CommitStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._wal: WalSync | None = None
        self._pending: deque[_Job] = deque()  # waiting for the next transaction
        self._syncing = False  # a committed batch is being fsynced
        self._flush_handle: asyncio.Handle | None = None
        self._busy_since: float | None = None  # another process holds the write lock
        self._broken: str | None = None  # set for good when an fsync failed
        self._idle: asyncio.Event | None = None  # set when nothing is pending or syncing

    def _connect(self, synchronous: str = "FULL", busy_timeout_ms: int = 5000
                 ) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        return conn

    async def open(self) -> None:
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._reader = self._connect()
            self._reader.executescript(SCHEMA)
            self._reader.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            # The writer runs on the event loop, so it must never wait: no busy
            # timeout (a lock held by another process is retried from a timer),
            # no fsync and no checkpoint of its own (WalSync does both in threads).
            self._writer = self._connect("NORMAL", busy_timeout_ms=0)
            self._writer.execute("PRAGMA wal_autocheckpoint=0")
            checkpointer = self._connect("NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise LeaseStoreError(f"cannot open the lease database {self.path}: {exc}") from exc
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        self._idle.set()
        self._wal = WalSync(self.path, self.checkpoint_interval)
        self._wal.open(checkpointer)

    async def load(self) -> list[Lease]:
        assert self._reader is not None
        return [_lease(row) for row in self._reader.execute(f"SELECT {COLUMNS} FROM leases")]

    async def get(self, address: IPv4Address) -> Lease | None:
        assert self._reader is not None
        row = self._reader.execute(
            f"SELECT {COLUMNS} FROM leases WHERE address = ?", (address_int(address),)
        ).fetchone()
        return _lease(row) if row else None

    async def write(self, lease: Lease, now: float) -> bool:
        return await self._submit("write", lease, lease.address, now)

    async def delete(self, address: IPv4Address) -> None:
        await self._submit("delete", None, address, 0.0)

    async def _submit(
        self, kind: Literal["write", "delete"], lease: Lease | None, address: IPv4Address,
        now: float,
    ) -> bool:
        loop = self._loop
        if loop is None or self._writer is None:
            raise LeaseStoreError("the lease store is not open")
        if self._broken is not None:
            raise LeaseStoreError(self._broken)
        future: asyncio.Future[bool] = loop.create_future()
        self._pending.append(_Job(kind, lease, address, now, future))
        if self._flush_handle is None and not self._syncing:
            # Group commit: the first write of a batch waits commit_delay for
            # others to join it; while a batch is being synced, the next one
            # gathers and is committed as soon as that sync is done.
            assert self._idle is not None
            self._idle.clear()
            self._flush_handle = (loop.call_later(self.commit_delay, self._flush)
                                  if self.commit_delay > 0 else loop.call_soon(self._flush))
        return await future

    async def close(self) -> None:
        if self._idle is not None:
            await self._idle.wait()  # pending writes are committed and synced first
        if self._wal is not None:
            self._wal.close()
            self._wal = None
        for conn in (self._writer, self._reader):
            if conn is not None:
                conn.close()
        self._writer = self._reader = None
        self._loop = None

    # --- group commit: the transaction on the loop, the fsync in a thread -----------

    def _flush(self) -> None:
        self._flush_handle = None
        assert self._writer is not None and self._wal is not None and self._loop is not None
        if not self._pending:  # all failed meanwhile (a broken store)
            if not self._syncing and self._idle is not None:
                self._idle.set()
            return
        jobs = [self._pending.popleft()
                for _ in range(min(len(self._pending), self.max_batch))]
        started = time.perf_counter()
        try:
            self._writer.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if self._retry_when_busy(exc, jobs):
                return
            self._fail(jobs, f"lease commit failed: {exc}")
            return
        self._busy_since = None
        try:
            results = self._apply_all(self._writer, jobs)
            self._writer.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("ROLLBACK")
            self._fail(jobs, f"lease commit failed: {exc}")
            return
        self._syncing = True
        synced = self._wal.committed()
        synced.add_done_callback(
            lambda done: self._loop.call_soon_threadsafe(  # type: ignore[union-attr]
                self._synced, jobs, results, started, done))

    def _retry_when_busy(self, exc: sqlite3.Error, jobs: list[_Job]) -> bool:
        """Another process holds the write lock (an operator's sqlite3 shell): retry
        from a timer for up to BUSY_RETRY_SECONDS rather than block the loop."""
        if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY:
            return False
        now = time.monotonic()
        if self._busy_since is None:
            self._busy_since = now
            log.warning("lease_database_busy", path=str(self.path),
                        detail="another process holds the write lock; retrying")
        elif now - self._busy_since > BUSY_RETRY_SECONDS:
            self._busy_since = None
            return False
        self._pending.extendleft(reversed(jobs))
        assert self._loop is not None
        self._flush_handle = self._loop.call_later(BUSY_RETRY_DELAY, self._flush)
        return True

    def _synced(self, jobs: list[_Job], results: list[bool], started: float,
                done: Future[None]) -> None:
        self._syncing = False
        error = done.exception()
        if error is not None:
            # The kernel may have dropped the pages it could not write: nothing
            # written since can be trusted to be on disk. No more ACKs.
            self._broken = (f"the lease database could not be synced to disk ({error}); "
                            "no lease is acknowledged until the daemon is restarted")
            log.critical("lease_database_sync_failed", path=str(self.path), error=str(error))
            waiting = list(self._pending)
            self._pending.clear()
            self._fail(jobs + waiting, self._broken)
        else:
            self.stats.observe(time.perf_counter() - started, len(jobs))
            for job, ok in zip(jobs, results, strict=True):
                if not job.future.done():
                    job.future.set_result(ok)
        if self._pending:
            self._flush()  # they waited for this sync already
        else:
            assert self._idle is not None
            self._idle.set()

    def _fail(self, jobs: list[_Job], message: str) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(LeaseStoreError(message))
        if not self._pending and not self._syncing and self._idle is not None:
            self._idle.set()
        elif self._pending and self._flush_handle is None and not self._syncing:
            assert self._loop is not None
            self._flush_handle = self._loop.call_soon(self._flush)

    def _apply_all(self, conn: sqlite3.Connection, jobs: list[_Job]) -> list[bool]:
        """Run the batch inside the open transaction; one result per job."""
        if all(job.lease is not None for job in jobs):
            # The usual batch, only writes: one executemany. If every row was
            # written, done; if the store refused some, redo them one by one
            # from a savepoint to learn which.
            conn.execute("SAVEPOINT batch")
            cursor = conn.executemany(
                UPSERT, [_row(job.lease, job.now) for job in jobs if job.lease is not None]
            )
            if cursor.rowcount == len(jobs):
                conn.execute("RELEASE batch")
                return [True] * len(jobs)
            conn.execute("ROLLBACK TO batch")
            conn.execute("RELEASE batch")
        results = []
        for job in jobs:
            if job.lease is not None:
                cursor = conn.execute(UPSERT, _row(job.lease, job.now))
                results.append(cursor.rowcount == 1)
            else:
                conn.execute("DELETE FROM leases WHERE address = ?", (address_int(job.address),))
                results.append(True)
        return results
