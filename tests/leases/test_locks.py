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


async def test_waiters_get_the_lock_in_arrival_order_and_no_newcomer_overtakes() -> None:
    locks = KeyedLocks()
    order: list[str] = []
    release = asyncio.Event()

    async def take(name: str) -> None:
        async with locks.hold("k"):
            order.append(name)

    async def first() -> None:
        async with locks.hold("k"):
            order.append("first")
            await release.wait()
        # w0 is woken but has not run yet: a newcomer now must still queue behind it.
        await take("newcomer")

    holding = asyncio.create_task(first())
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(take(f"w{n}")) for n in range(3)]
    await asyncio.sleep(0)
    release.set()
    await asyncio.wait_for(asyncio.gather(holding, *waiters), 1)
    assert order == ["first", "w0", "w1", "w2", "newcomer"]
    assert len(locks) == 0


async def test_a_waiter_cancelled_after_its_wake_up_passes_the_turn_on() -> None:
    locks = KeyedLocks()
    holder_may_leave = asyncio.Event()
    got_it: list[str] = []
    tasks: dict[str, asyncio.Task[None]] = {}

    async def holder() -> None:
        async with locks.hold("k"):
            await holder_may_leave.wait()
        # The release woke "woken"; it is cancelled before it runs.
        tasks["woken"].cancel()

    async def waiter(name: str) -> None:
        async with locks.hold("k"):
            got_it.append(name)

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    tasks["woken"] = asyncio.create_task(waiter("woken"))
    second = asyncio.create_task(waiter("second"))
    await asyncio.sleep(0)
    holder_may_leave.set()
    await asyncio.wait_for(
        asyncio.gather(held, tasks["woken"], second, return_exceptions=True), 1)
    assert got_it == ["second"] and tasks["woken"].cancelled()
    assert len(locks) == 0 and not locks.is_held("k")
