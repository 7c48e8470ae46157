"""The embedded default lease store: one SQLite file, written with group commit.

Every write waits for a real COMMIT (WAL, synchronous=FULL by default) before
its caller goes on, so a DHCPACK never leaves before its lease is on disk. A
single writer thread gathers the writes that arrive while it is committing and
commits them together: one fsync for many leases, so durability does not cost
throughput.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Literal

from dhcpd.errors import LeaseStoreError
from dhcpd.wire import HardwareAddress

from ..model import Lease, LeaseState
from .base import LeaseStore

SCHEMA_VERSION = 1

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

COLUMNS = "address, client_key, htype, hw_address, client_id, subnet_id, state, starts, " \
    "expires, hostname"


def _row(lease: Lease, now: float) -> tuple[object, ...]:
    return (
        int(lease.address), lease.client_key, lease.hw_address.htype, lease.hw_address.address,
        lease.client_id, lease.subnet_id, int(lease.state), lease.starts, lease.expires,
        lease.hostname, now,
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


@dataclass(slots=True)
class _Job:
    kind: Literal["write", "delete"]
    lease: Lease | None
    address: IPv4Address
    now: float
    future: asyncio.Future[bool]
    loop: asyncio.AbstractEventLoop


# Upper bounds (seconds) of the commit latency histogram (the metrics endpoint).
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class CommitStats:
    """Updated by the writer thread only; read (unlocked, approximately) by the metrics."""

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
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        self.path = Path(path)
        self.commit_delay = commit_delay_ms / 1000.0
        self.max_batch = max_batch
        self.synchronous = synchronous
        self.stats = CommitStats()
        # Jobs for the writer (None: stop). The loop only appends; the writer is
        # woken once per batch, not once per job, so the two threads do not
        # hand the GIL back and forth for every lease.
        self._jobs: deque[_Job | None] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
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
            writer = self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise LeaseStoreError(f"cannot open the lease database {self.path}: {exc}") from exc
        self._thread = threading.Thread(
            target=self._run_writer, args=(writer,), name="sqlite-lease-writer", daemon=True
        )
        self._thread.start()

    async def load(self) -> list[Lease]:
        assert self._reader is not None
        return [_lease(row) for row in self._reader.execute(f"SELECT {COLUMNS} FROM leases")]

    async def get(self, address: IPv4Address) -> Lease | None:
        assert self._reader is not None
        row = self._reader.execute(
            f"SELECT {COLUMNS} FROM leases WHERE address = ?", (int(address),)
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
        if self._thread is None:
            raise LeaseStoreError("the lease store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._put(_Job(kind, lease, address, now, future, loop))
        return await future

    def _put(self, job: _Job | None) -> None:
        self._jobs.append(job)
        if not self._wake.is_set():
            self._wake.set()

    async def close(self) -> None:
        if self._thread is not None:
            self._put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # --- the writer thread -------------------------------------------------

    def _run_writer(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                if self._jobs:
                    # Arrived while the last batch was committing: they have
                    # waited already, commit them now.
                    self._wake.clear()
                else:
                    self._wake.wait()
                    self._wake.clear()
                    if self.commit_delay > 0:
                        time.sleep(self.commit_delay)  # let more writes join the batch
                batch, stop = self._take_batch()
                if batch:
                    self._commit(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _take_batch(self) -> tuple[list[_Job], bool]:
        """Up to max_batch queued jobs; True once the stop marker is reached."""
        batch: list[_Job] = []
        jobs = self._jobs
        while jobs and len(batch) < self.max_batch:
            job = jobs.popleft()
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

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
                conn.execute("DELETE FROM leases WHERE address = ?", (int(job.address),))
                results.append(True)
        return results

    def _commit(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        started = time.perf_counter()
        results: list[bool] = []
        error: BaseException | None = None
        try:
            conn.execute("BEGIN IMMEDIATE")
            results = self._apply_all(conn, jobs)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            error = exc
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        elapsed = time.perf_counter() - started
        self.stats.observe(elapsed, len(jobs))
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, bool]]] = {}
        for index, job in enumerate(jobs):
            by_loop.setdefault(job.loop, []).append(
                (job, results[index] if error is None else False)
            )
        for loop, done in by_loop.items():
            loop.call_soon_threadsafe(_resolve, done, error)


def _resolve(done: list[tuple[_Job, bool]], error: BaseException | None) -> None:
    for job, ok in done:
        if job.future.done():
            continue
        if error is not None:
            job.future.set_exception(LeaseStoreError(f"lease commit failed: {error}"))
        else:
            job.future.set_result(ok)
