"""KeyedLocks: exclusion per key, independence across keys, no leak on cancellation."""

from __future__ import annotations

import asyncio

from dhcpd.leases.locks import KeyedLocks


async def test_same_key_is_exclusive_and_other_keys_are_not_blocked() -> None:
    locks = KeyedLocks()
    order: list[str] = []
    gate = asyncio.Event()

    async def slow() -> None:
        async with locks.hold("a"):
            order.append("a1-in")
            await gate.wait()
            order.append("a1-out")

    async def second_a() -> None:
        async with locks.hold("a"):
            order.append("a2-in")

    async def other() -> None:
        async with locks.hold("b"):
            order.append("b-in")

    first = asyncio.create_task(slow())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(second_a())
    await asyncio.wait_for(other(), 1)  # not blocked by "a"
    await asyncio.sleep(0)
    assert "a2-in" not in order
    gate.set()
    await asyncio.gather(first, waiting)
    assert order == ["a1-in", "b-in", "a1-out", "a2-in"]
    assert len(locks) == 0


async def test_a_cancelled_waiter_leaves_no_lock_behind() -> None:
    locks = KeyedLocks()
    gate = asyncio.Event()

    async def holder() -> None:
        async with locks.hold("k"):
            await gate.wait()

    async def waiter() -> None:
        async with locks.hold("k"):
            raise AssertionError("never gets the lock")

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    gate.set()
    await held
    assert len(locks) == 0
