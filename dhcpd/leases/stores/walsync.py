"""Making the SQLite write-ahead log durable away from the event loop.

The store commits its transactions on the event loop with synchronous=NORMAL:
SQLite then writes each transaction's frames to the ``-wal`` file, into the
page cache, without waiting for the disk. WalSync does the waiting in a
thread: ``os.fsync`` of the ``-wal`` file, which releases the GIL for its whole
length. The loop never blocks on the disk, and the two threads hand the GIL
over once per batch instead of around every row SQLite writes.

Why this is as durable as synchronous=FULL (https://sqlite.org/wal.html):
a WAL transaction is committed once the WAL header and its frames, up to its
commit frame, are on stable storage. ``fsync`` of the file covers every frame
written before the call, so a write acknowledged after an fsync that began
after its COMMIT survives a crash or a power cut. The WAL is reused from its
start only after a checkpoint has copied every frame into the database file
and synced that file; the checkpoints here run on their own connection with
synchronous=NORMAL, under which SQLite syncs the WAL before the copy and the
database after it (https://sqlite.org/pragma.html#pragma_synchronous). The
main connection never checkpoints (wal_autocheckpoint=0), so no checkpoint's
fsyncs ever run on the event loop.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from dhcpd.logsetup import get_logger

log = get_logger("dhcpd.leases")

CHECKPOINT_INTERVAL = 1.0  # seconds between checkpoints while leases are written


class WalSync:
    """fsync of one database's ``-wal`` file in a thread, and its checkpoints."""

    def __init__(self, database: Path, checkpoint_interval: float = CHECKPOINT_INTERVAL) -> None:
        self.database = database
        self.wal = database.with_name(database.name + "-wal")
        self.checkpoint_interval = checkpoint_interval
        self._fd: int | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-fsync")
        self._commits = 0  # bumped by the loop after each COMMIT; read by the checkpointer
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None

    def open(self, checkpoint_connection: sqlite3.Connection) -> None:
        """Start checkpointing; `checkpoint_connection` is used by that thread only."""
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, args=(checkpoint_connection,),
            name="sqlite-checkpoint", daemon=True,
        )
        self._checkpointer.start()

    def committed(self) -> Future[None]:
        """Called after a COMMIT: a future done once that transaction is on disk."""
        self._commits += 1
        return self._pool.submit(self._sync)

    def _sync(self) -> None:
        if self._fd is None:
            # The -wal file exists from the first COMMIT on and stays while the
            # store's connections are open (SQLite removes it when the last one
            # closes). Its directory entry is made durable once, here.
            self._fd = os.open(self.wal, os.O_RDONLY | os.O_CLOEXEC)
            directory = os.open(self.wal.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        os.fsync(self._fd)

    def _checkpoint_loop(self, conn: sqlite3.Connection) -> None:
        done = 0
        try:
            while not self._stop.wait(self.checkpoint_interval):
                commits = self._commits
                if commits == done:
                    continue
                try:
                    # PASSIVE: copies what it can without blocking the writer;
                    # what a concurrent COMMIT adds is left for the next round.
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    done = commits
                except sqlite3.Error as exc:
                    log.warning("lease_checkpoint_failed", error=str(exc))
        finally:
            conn.close()

    def close(self) -> None:
        """Stop the threads (a sync already submitted still runs to its end)."""
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join()
            self._checkpointer = None
        self._pool.shutdown(wait=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
