"""The lease stores: durability, group commit, the conditional write."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from dhcpd.errors import LeaseStoreError
from dhcpd.leases import Lease, LeaseState, client_key
from dhcpd.leases.stores import LeaseStore, MemoryLeaseStore, SqliteLeaseStore
from dhcpd.wire import HardwareAddress

NOW = 1_700_000_000.0


def lease(n: int, owner: int | None = None, state: LeaseState = LeaseState.ACTIVE,
          expires: float = NOW + 3600) -> Lease:
    hw = HardwareAddress(1, bytes([2, 0, 0, 0, 0, owner if owner is not None else n]))
    return Lease(
        address=IPv4Address(f"192.0.2.{n}"), client_key=client_key(None, hw), hw_address=hw,
        client_id=None, subnet_id=1, state=state, starts=NOW, expires=expires,
        hostname=f"host-{n}",
    )


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> LeaseStore:
    s: LeaseStore = MemoryLeaseStore() if request.param == "memory" else \
        SqliteLeaseStore(tmp_path / "leases.sqlite3")
    await s.open()
    yield s  # type: ignore[misc]
    await s.close()


async def test_written_lease_reads_back_equal(store: LeaseStore) -> None:
    assert await store.write(lease(10), NOW)
    assert await store.get(IPv4Address("192.0.2.10")) == lease(10)
    assert await store.load() == [lease(10)]


async def test_write_refuses_an_address_another_client_holds(store: LeaseStore) -> None:
    assert await store.write(lease(10, owner=1), NOW)
    assert not await store.write(lease(10, owner=2), NOW)
    assert await store.get(IPv4Address("192.0.2.10")) == lease(10, owner=1)


async def test_write_takes_over_an_expired_or_released_address(store: LeaseStore) -> None:
    assert await store.write(lease(10, owner=1, expires=NOW - 1), NOW - 100)
    assert await store.write(lease(10, owner=2), NOW)
    assert await store.write(lease(11, owner=1, state=LeaseState.RELEASED), NOW)
    assert await store.write(lease(11, owner=3), NOW)


async def test_delete_removes_the_record(store: LeaseStore) -> None:
    await store.write(lease(10), NOW)
    await store.delete(IPv4Address("192.0.2.10"))
    assert await store.get(IPv4Address("192.0.2.10")) is None


async def test_sqlite_leases_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    first = SqliteLeaseStore(path)
    await first.open()
    for n in range(1, 51):
        await first.write(lease(n), NOW)
    await first.close()
    second = SqliteLeaseStore(path)
    await second.open()
    loaded = sorted(await second.load(), key=lambda item: item.address)
    await second.close()
    assert loaded == [lease(n) for n in range(1, 51)]


async def test_sqlite_stores_client_ids_as_blobs_and_absent_values_as_null(
    tmp_path: Path,
) -> None:
    # The store's sqlite3 adapters for bytes and None must bind them as they are.
    path = tmp_path / "leases.sqlite3"
    store = SqliteLeaseStore(path)
    await store.open()
    with_id = dataclasses.replace(lease(7), client_id=b"\x01\x02\x00\x00\x00\x00\x07",
                                  hostname=None)
    await store.write(with_id, NOW)
    await store.close()
    with sqlite3.connect(path) as other:
        kinds = other.execute(
            "SELECT typeof(client_key), typeof(hw_address), typeof(client_id), "
            "typeof(hostname), client_id FROM leases").fetchone()
    assert kinds == ("blob", "blob", "blob", "null", b"\x01\x02\x00\x00\x00\x00\x07")
    reopened = SqliteLeaseStore(path)
    await reopened.open()
    assert await reopened.load() == [with_id]
    await reopened.close()


async def test_sqlite_write_is_committed_when_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    store = SqliteLeaseStore(path, commit_delay_ms=0)
    await store.open()
    await store.write(lease(7), NOW)
    # Another connection (as after a crash) sees it at once.
    with sqlite3.connect(path) as other:
        count = other.execute("SELECT count(*) FROM leases").fetchone()[0]
    await store.close()
    assert count == 1


async def test_sqlite_group_commit_batches_concurrent_writes(tmp_path: Path) -> None:
    store = SqliteLeaseStore(tmp_path / "leases.sqlite3", commit_delay_ms=20)
    await store.open()
    results = await asyncio.gather(*(store.write(lease(n), NOW) for n in range(1, 201)))
    await store.close()
    assert all(results)
    assert store.stats.rows == 200
    # 200 concurrent writes took far fewer than 200 commits.
    assert store.stats.commits <= 20


async def test_sqlite_close_finishes_pending_writes(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    store = SqliteLeaseStore(path, commit_delay_ms=50)
    await store.open()
    pending = [asyncio.ensure_future(store.write(lease(n), NOW)) for n in range(1, 21)]
    await asyncio.sleep(0)
    await store.close()
    assert all(await asyncio.gather(*pending))
    reopened = SqliteLeaseStore(path)
    await reopened.open()
    assert len(await reopened.load()) == 20
    await reopened.close()


async def test_sqlite_unopenable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = SqliteLeaseStore(blocker / "leases.sqlite3")
    with pytest.raises(LeaseStoreError, match="cannot open the lease database"):
        await store.open()


async def test_sqlite_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = SqliteLeaseStore(path)
    with pytest.raises(LeaseStoreError):
        await store.open()


async def test_sqlite_batch_with_one_refused_write_commits_the_others(tmp_path: Path) -> None:
    store = SqliteLeaseStore(tmp_path / "leases.sqlite3", commit_delay_ms=20)
    await store.open()
    assert await store.write(lease(10, owner=1), NOW)
    # One batch: client 2 tries client 1's address, the others are free.
    results = await asyncio.gather(
        store.write(lease(11), NOW), store.write(lease(10, owner=2), NOW),
        store.write(lease(12), NOW),
    )
    loaded = {item.address: item for item in await store.load()}
    await store.close()
    assert results == [True, False, True]
    assert loaded[IPv4Address("192.0.2.10")] == lease(10, owner=1)
    assert IPv4Address("192.0.2.11") in loaded and IPv4Address("192.0.2.12") in loaded


async def test_sqlite_write_returns_only_after_the_wal_is_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ACK waits for the disk: a write is not done while the fsync of the
    -wal file that covers its transaction has not returned."""
    import os
    import threading

    from dhcpd.leases.stores import walsync

    release = threading.Event()
    synced: list[str] = []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if target.endswith("-wal"):
            assert release.wait(10)
            synced.append(target)
        real_fsync(fd)

    monkeypatch.setattr(walsync.os, "fsync", slow_fsync)
    path = tmp_path / "leases.sqlite3"
    store = SqliteLeaseStore(path, commit_delay_ms=0)
    await store.open()
    pending = asyncio.ensure_future(store.write(lease(7), NOW))
    await asyncio.sleep(0.2)
    # Committed to the WAL (another connection sees it), but not yet on disk: no answer.
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT count(*) FROM leases").fetchone()[0] == 1
    assert not pending.done()
    release.set()
    assert await asyncio.wait_for(pending, 10)
    await store.close()
    assert synced == [str(path) + "-wal"]


async def test_sqlite_failed_fsync_fails_the_write_and_every_later_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An fsync error means the kernel may have dropped what it could not write:
    that batch and everything after it get LeaseStoreError (no ACK), not a
    silent success."""
    import errno
    import os

    from dhcpd.leases.stores import walsync

    def failing_fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("-wal"):
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(walsync.os, "fsync", failing_fsync)
    store = SqliteLeaseStore(tmp_path / "leases.sqlite3", commit_delay_ms=0)
    await store.open()
    with pytest.raises(LeaseStoreError, match="could not be synced to disk"):
        await store.write(lease(7), NOW)
    with pytest.raises(LeaseStoreError, match="until the daemon is restarted"):
        await store.write(lease(8), NOW)
    await asyncio.wait_for(store.close(), 5)  # nothing left pending or syncing


async def test_sqlite_write_lock_held_elsewhere_is_retried_without_blocking(
    tmp_path: Path
) -> None:
    """An operator's sqlite3 shell holding the write lock delays commits (the
    loop keeps running meanwhile); they go through once it lets go."""
    path = tmp_path / "leases.sqlite3"
    store = SqliteLeaseStore(path, commit_delay_ms=0)
    await store.open()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    pending = asyncio.ensure_future(store.write(lease(7), NOW))
    ticks = 0
    for _ in range(20):  # the loop is free while the write waits
        await asyncio.sleep(0.01)
        ticks += 1
    assert not pending.done() and ticks == 20
    other.execute("ROLLBACK")
    other.close()
    assert await asyncio.wait_for(pending, 5)
    await store.close()


async def test_sqlite_wal_is_checkpointed_into_the_database(tmp_path: Path) -> None:
    """The checkpointer copies committed leases into the database file itself, so
    the WAL does not grow without end."""
    import shutil

    path = tmp_path / "leases.sqlite3"
    store = SqliteLeaseStore(path, commit_delay_ms=0, checkpoint_interval=0.05)
    await store.open()
    for n in range(1, 21):
        assert await store.write(lease(n), NOW)
    await asyncio.sleep(0.5)
    # The database file alone (without its -wal) holds only what was checkpointed.
    shutil.copy(path, tmp_path / "alone.sqlite3")
    await store.close()
    with sqlite3.connect(tmp_path / "alone.sqlite3") as alone:
        assert alone.execute("SELECT count(*) FROM leases").fetchone()[0] == 20


async def test_sqlite_writes_waiting_behind_a_failed_fsync_fail_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writes that gathered while the failing fsync ran are not committed
    later as if nothing happened: they fail with the batch."""
    import errno
    import os
    import threading

    from dhcpd.leases.stores import walsync

    release = threading.Event()

    def failing_fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("-wal"):
            assert release.wait(10)
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(walsync.os, "fsync", failing_fsync)
    store = SqliteLeaseStore(tmp_path / "leases.sqlite3", commit_delay_ms=0)
    await store.open()
    first = asyncio.ensure_future(store.write(lease(7), NOW))
    await asyncio.sleep(0.1)  # committed, its fsync blocked
    waiting = [asyncio.ensure_future(store.write(lease(n), NOW)) for n in (8, 9)]
    await asyncio.sleep(0.05)
    release.set()
    results = await asyncio.wait_for(
        asyncio.gather(first, *waiting, return_exceptions=True), 5)
    assert all(isinstance(result, LeaseStoreError) for result in results)
    await asyncio.wait_for(store.close(), 5)
