"""The dispatcher: deadlines, threads, failures, garbage, quarantine."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any

from dhcpd.hooks import HookTable, NewPacketVerdict
from dhcpd.hooks.dispatcher import CalloutDispatcher, CallStatus, HookPolicy


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
