"""The dispatcher: deadlines, threads, failures, garbage, quarantine."""

from __future__ import annotations

import asyncio
import bisect
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from dhcpd.hooks import HookTable, NewPacketVerdict
from dhcpd.hooks.calling import DURATION_BUCKETS, OK_NONE, CallStatus, bucket_of
from dhcpd.hooks.dispatcher import CalloutDispatcher, HookPolicy
from dhcpd.scheduler import PacketScheduler
from dhcpd.workqueue import WorkQueue

T = TypeVar("T")


def dispatcher(table: HookTable, **policies: HookPolicy) -> CalloutDispatcher:
    return CalloutDispatcher(table, module="test", policies=policies, quarantine_after=3)


async def test_async_hook_is_awaited_and_plain_hook_runs_in_a_thread() -> None:
    seen: dict[str, Any] = {}

    async def control(event: Any) -> None:
        seen["async"] = threading.current_thread().name

    def packet_drop(event: Any) -> None:
        seen["plain"] = threading.current_thread().name

    d = dispatcher(HookTable(control=control, packet_drop=packet_drop))
    assert (await d.call("control", object())).ok
    assert (await d.call("packet_drop", object())).ok
    assert seen["async"] == threading.current_thread().name
    assert seen["plain"].startswith("callout")
    d.close()


async def test_a_hook_past_its_deadline_is_abandoned_and_counted() -> None:
    async def slow(event: Any) -> None:
        await asyncio.sleep(5)

    d = dispatcher(HookTable(address_offer=slow),
                   address_offer=HookPolicy(deadline=0.05, on_timeout="drop"))
    started = asyncio.get_running_loop().time()
    outcome = await d.call("address_offer", object())
    assert asyncio.get_running_loop().time() - started < 1
    assert outcome.status is CallStatus.TIMEOUT and outcome.drop
    assert d.stats()["address_offer"]["timeouts"] == 1


async def test_a_blocking_plain_hook_does_not_block_the_event_loop() -> None:
    import time

    def stuck(event: Any) -> None:
        time.sleep(0.5)

    d = dispatcher(HookTable(packet_drop=stuck), packet_drop=HookPolicy(deadline=0.05))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(10):
            await asyncio.sleep(0.005)
            ticks += 1

    outcome, _ = await asyncio.gather(d.call("packet_drop", object()), ticker())
    assert outcome.status is CallStatus.TIMEOUT and not outcome.drop  # default: continue
    assert ticks == 10
    d.close()


async def test_raising_hooks_are_contained_then_quarantined() -> None:
    calls = 0

    async def broken(event: Any) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    d = dispatcher(HookTable(handle_options=broken))
    for _ in range(5):
        await d.call("handle_options", object())
    # Three consecutive failures quarantine it: later events skip it.
    assert calls == 3
    stats = d.stats()["handle_options"]
    assert stats["failures"] == 3 and stats["quarantined"]
    assert not d.has("handle_options")


async def test_a_hook_calling_sys_exit_costs_only_its_call() -> None:
    async def leaver(event: Any) -> None:
        sys.exit(3)

    d = dispatcher(HookTable(control=leaver))
    outcome = await d.call("control", object())
    assert outcome.status is CallStatus.FAILED


async def test_garbage_handed_back_is_a_failure_and_ignored() -> None:
    async def new_packet(event: Any) -> Any:
        return {"packet": "not a verdict"}

    async def packet_send(event: Any) -> Any:
        return 42

    async def good(event: Any) -> NewPacketVerdict:
        return NewPacketVerdict(packet=b"x", process=False)

    d = dispatcher(HookTable(new_packet=new_packet, packet_send=packet_send))
    assert (await d.call("new_packet", object())).status is CallStatus.FAILED
    assert (await d.call("packet_send", object())).status is CallStatus.FAILED
    ok = await dispatcher(HookTable(new_packet=good)).call("new_packet", object())
    assert ok.ok and ok.value.process is False


async def test_success_resets_the_quarantine_count() -> None:
    fail = True

    async def flaky(event: Any) -> None:
        if fail:
            raise ValueError("flaky")

    d = dispatcher(HookTable(control=flaky))
    await d.call("control", object())
    await d.call("control", object())
    fail = False
    await d.call("control", object())
    fail = True
    await d.call("control", object())
    await d.call("control", object())
    assert d.has("control")


# --- without a task: packets are run by the scheduler, stepped from callbacks ---------


async def without_task(call: Callable[[], Awaitable[T]]) -> T:
    """Await `call()` as the packet scheduler runs a packet: no asyncio Task."""
    results: list[T] = []
    errors: list[Exception] = []

    async def run(_: str) -> None:
        assert asyncio.current_task() is None
        results.append(await call())

    scheduler = PacketScheduler(run, 1, WorkQueue(1, 60), lambda _, exc: errors.append(exc))
    scheduler.submit("packet", urgent=True)
    # As the transport does: pump() from a reader callback, not from a task.
    asyncio.get_running_loop().call_soon(scheduler.pump)
    await asyncio.wait_for(scheduler.join(), 5)
    assert not errors and len(results) == 1
    return results[0]


async def test_a_hook_that_waits_keeps_its_deadline_without_a_task() -> None:
    cancelled: list[bool] = []

    async def slow(event: Any) -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(True)  # at the await it was waiting in
            raise

    d = dispatcher(HookTable(address_offer=slow),
                   address_offer=HookPolicy(deadline=0.05, on_timeout="drop"))
    started = asyncio.get_running_loop().time()
    outcome = await without_task(lambda: d.call("address_offer", object()))
    assert asyncio.get_running_loop().time() - started < 1
    assert outcome.status is CallStatus.TIMEOUT and outcome.drop
    assert cancelled == [True]
    assert d.stats()["address_offer"]["timeouts"] == 1


async def test_a_hook_that_waits_and_finishes_in_time_is_ok_without_a_task() -> None:
    async def new_packet(event: Any) -> NewPacketVerdict:
        await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        return NewPacketVerdict(context="mine")

    async def packet_drop(event: Any) -> str:
        await asyncio.sleep(0.01)
        return "ignored"

    d = dispatcher(HookTable(new_packet=new_packet, packet_drop=packet_drop),
                   new_packet=HookPolicy(deadline=1.0, on_timeout="drop"))
    outcome = await without_task(lambda: d.call("new_packet", object()))
    assert outcome.ok and outcome.value == NewPacketVerdict(context="mine")
    assert (await without_task(lambda: d.call("packet_drop", object()))).ok
    assert d.stats()["new_packet"]["timeouts"] == 0


@pytest.mark.parametrize("in_task", [False, True])
async def test_a_hook_that_only_yields_is_cancelled_at_its_next_step(in_task: bool) -> None:
    # asyncio.sleep(0) waits for no future: the cancellation comes at its next step.
    steps = 0

    async def busy(event: Any) -> None:
        nonlocal steps
        while True:
            steps += 1
            await asyncio.sleep(0)

    d = dispatcher(HookTable(handle_options=busy), handle_options=HookPolicy(deadline=0.05))
    call = lambda: d.call("handle_options", object())  # noqa: E731
    outcome = await (call() if in_task else without_task(call))
    assert outcome.status is CallStatus.TIMEOUT and not outcome.drop
    assert steps > 1


async def test_a_plain_hook_keeps_its_deadline_without_a_task() -> None:
    import time

    def stuck(event: Any) -> None:
        time.sleep(0.3)

    d = dispatcher(HookTable(packet_drop=stuck), packet_drop=HookPolicy(deadline=0.05))
    outcome = await without_task(lambda: d.call("packet_drop", object()))
    assert outcome.status is CallStatus.TIMEOUT
    d.close()


async def test_cancelling_the_packet_is_not_a_timeout() -> None:
    seen: list[str] = []

    async def slow(event: Any) -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            seen.append("hook cancelled")
            raise

    d = dispatcher(HookTable(address_offer=slow), address_offer=HookPolicy(deadline=2.0))

    async def run(_: str) -> None:
        try:
            await d.call("address_offer", object())
        except asyncio.CancelledError:
            seen.append("packet cancelled")
            raise

    scheduler = PacketScheduler(run, 1, WorkQueue(1, 60), lambda _, exc: None)
    scheduler.submit("packet", urgent=True)
    asyncio.get_running_loop().call_soon(scheduler.pump)
    await asyncio.sleep(0.01)
    scheduler.cancel()  # the shutdown's, after its drain deadline
    await asyncio.wait_for(scheduler.join(), 1)
    assert seen == ["hook cancelled", "packet cancelled"]
    assert d.stats()["address_offer"]["timeouts"] == 0


async def test_callers_are_the_slots_that_may_be_called() -> None:
    async def broken(event: Any) -> None:
        raise RuntimeError("boom")

    async def fine(event: Any) -> str:
        return "ignored: only new_packet and packet_send hand back"

    d = dispatcher(HookTable(handle_options=broken, packet_drop=fine))
    assert set(d.callers) == {"handle_options", "packet_drop"}
    outcome = d.callers["packet_drop"](object())
    assert outcome is OK_NONE  # finished at once: the outcome itself, no coroutine
    for _ in range(3):
        await d.call("handle_options", object())
    assert set(d.callers) == {"packet_drop"}  # quarantined: taken out
    assert not d.has("handle_options")
    assert (await d.call("handle_options", object())).status is CallStatus.SKIPPED


async def test_the_books_count_every_call_with_its_outcome_and_duration() -> None:
    async def ok(event: Any) -> None:
        return None

    async def broken(event: Any) -> None:
        raise RuntimeError("boom")

    async def slow(event: Any) -> None:
        await asyncio.sleep(0.01)

    d = CalloutDispatcher(HookTable(packet_drop=ok, handle_options=broken, address_del=slow),
                          policies={"address_del": HookPolicy(deadline=0.001)})
    await d.call("packet_drop", object())
    await d.call("packet_drop", object())
    await d.call("handle_options", object())
    await d.call("address_del", object())
    books = d.hook_stats()
    assert books["packet_drop"].calls == 2 and sum(books["packet_drop"].durations) == 2
    assert books["packet_drop"].durations[0] == 2  # a no-op takes under 100 us
    assert books["handle_options"].failures == 1 and sum(books["handle_options"].durations) == 1
    assert books["address_del"].timeouts == 1
    # 1 ms deadline: in the (500 us, 1 ms] bucket or a later one, never the first two
    assert sum(books["address_del"].durations[2:]) == 1
    stats = d.stats()["packet_drop"]
    assert stats["calls"] == 2 and stats["total_seconds"] >= 0


async def test_a_hook_bounds_a_step_of_its_own_in_a_task_of_its_own() -> None:
    # As docs/callouts.md advises: asyncio.timeout() needs a task, the packet has none.
    async def step() -> None:
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)

    async def new_packet(event: Any) -> NewPacketVerdict:
        try:
            await asyncio.create_task(step())
        except TimeoutError:
            return NewPacketVerdict(context="step timed out")
        return NewPacketVerdict()

    d = dispatcher(HookTable(new_packet=new_packet))
    outcome = await without_task(lambda: d.call("new_packet", object()))
    assert outcome.ok and outcome.value.context == "step timed out"


def test_each_call_is_counted_in_the_duration_bucket_bisect_would_choose() -> None:
    # bucket_of scans from the smallest bound (nearly every call is in the first)
    edges = [0.0, 0.00005, *DURATION_BUCKETS, 0.00099, 0.2, 4.9, 5.000001, 60.0]
    for seconds in edges:
        assert bucket_of(seconds) == bisect.bisect_left(DURATION_BUCKETS, seconds), seconds
