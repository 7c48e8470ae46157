"""The packet scheduler: packets run without a Task each, under a limit, urgent first."""

from __future__ import annotations

import asyncio
import contextvars

from dhcpd.scheduler import PacketScheduler
from dhcpd.workqueue import WorkQueue

current_packet: contextvars.ContextVar[str] = contextvars.ContextVar("current_packet")


class Recorder:
    """A stand-in pipeline: DISCOVERs finish at once, REQUESTs wait for a gate."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.errors: list[tuple[str, Exception]] = []
        self.gate: asyncio.Future[None] | None = None
        self.seen_context: list[tuple[str, str | None]] = []

    async def run(self, item: str) -> None:
        self.seen_context.append((item, current_packet.get(None)))
        current_packet.set(item)
        self.started.append(item)
        if item.startswith("request"):
            assert self.gate is not None
            await self.gate
        if item.startswith("boom"):
            raise ValueError(item)
        self.finished.append(item)

    def failed(self, item: str, exc: Exception) -> None:
        self.errors.append((item, exc))


def make(limit: int, capacity: int = 100, batch: int = 256,
         ) -> tuple[PacketScheduler[str], Recorder]:
    recorder = Recorder()
    scheduler = PacketScheduler(recorder.run, limit, WorkQueue(capacity, 60), recorder.failed,
                                batch=batch)
    return scheduler, recorder


def feed(scheduler: PacketScheduler[str], *items: str) -> None:
    """What the transport does: queue a batch of datagrams, then pump."""
    for item in items:
        scheduler.submit(item, urgent=not item.startswith("discover"))
    scheduler.pump()


async def test_a_packet_that_never_waits_is_done_within_pump() -> None:
    scheduler, recorder = make(limit=4)
    feed(scheduler, "discover-1")
    assert recorder.finished == ["discover-1"]  # no task, no loop turn
    assert scheduler.in_flight == 0


async def test_within_a_batch_urgent_packets_run_first() -> None:
    scheduler, recorder = make(limit=4)
    feed(scheduler, "discover-1", "discover-2", "release-3")
    assert recorder.finished == ["release-3", "discover-2", "discover-1"]


async def test_a_pump_starts_at_most_a_batch_and_the_loop_does_the_rest() -> None:
    scheduler, recorder = make(limit=100, batch=2)
    feed(scheduler, "discover-1", "discover-2", "discover-3", "discover-4", "discover-5")
    assert recorder.finished == ["discover-5", "discover-4"]
    await asyncio.wait_for(scheduler.join(), 1)
    assert len(recorder.finished) == 5


async def test_packets_finishing_together_start_at_most_a_batch_per_loop_turn() -> None:
    """A group commit resumes many REQUESTs in one loop turn; the queued packets
    still start a batch per turn, so the loop gets back to reading the sockets
    (under overload REQUESTs wait there) instead of working through the queue."""
    scheduler, recorder = make(limit=100, batch=3)
    recorder.gate = asyncio.get_running_loop().create_future()
    feed(scheduler, *(f"request-{n}" for n in range(8)))
    while len(recorder.started) < 8:  # a batch per turn: 3, 3, 2
        await asyncio.sleep(0)
    for n in range(20):
        scheduler.submit(f"discover-{n}", urgent=False)  # queued: the pump is not called
    recorder.gate.set_result(None)  # the commit is done: 8 resumes in the next turn
    await asyncio.sleep(0)
    assert all(f"request-{n}" in recorder.finished for n in range(8))
    turns = 0
    while len(scheduler.queue) > 0:
        started = sum(item.startswith("discover") for item in recorder.started)
        await asyncio.sleep(0)
        turns += 1
        assert sum(item.startswith("discover") for item in recorder.started) - started <= 3
    assert turns >= 20 // 3


async def test_a_waiting_packet_resumes_when_its_future_is_done() -> None:
    scheduler, recorder = make(limit=4)
    recorder.gate = asyncio.get_running_loop().create_future()
    feed(scheduler, "request-1")
    assert recorder.started == ["request-1"] and recorder.finished == []
    assert scheduler.in_flight == 1
    recorder.gate.set_result(None)
    await asyncio.wait_for(scheduler.join(), 1)
    assert recorder.finished == ["request-1"]
    assert scheduler.in_flight == 0


async def test_beyond_the_limit_packets_queue_and_start_urgent_first() -> None:
    scheduler, recorder = make(limit=2)
    recorder.gate = asyncio.get_running_loop().create_future()
    feed(scheduler, "request-1", "request-2")
    feed(scheduler, "discover-3", "request-4")  # no slot: queued, request-4 goes first
    assert recorder.started == ["request-1", "request-2"]
    assert len(scheduler.queue) == 2
    recorder.gate.set_result(None)
    await asyncio.wait_for(scheduler.join(), 1)
    assert recorder.started == ["request-1", "request-2", "request-4", "discover-3"]
    assert sorted(recorder.finished) == sorted(recorder.started)
    assert scheduler.in_flight == 0 and len(scheduler.queue) == 0


async def test_a_failing_packet_is_reported_and_frees_its_slot() -> None:
    scheduler, recorder = make(limit=1)
    feed(scheduler, "discover-0")
    feed(scheduler, "boom-1")
    feed(scheduler, "discover-2")
    assert [item for item, _ in recorder.errors] == ["boom-1"]
    assert isinstance(recorder.errors[0][1], ValueError)
    assert recorder.finished == ["discover-0", "discover-2"]
    assert scheduler.in_flight == 0


async def test_each_packet_starts_with_a_clean_context() -> None:
    scheduler, recorder = make(limit=4)
    current_packet.set("outside")  # set after the scheduler was made: not seen
    feed(scheduler, "discover-1", "discover-2")
    assert sorted(recorder.seen_context) == [("discover-1", None), ("discover-2", None)]
    assert current_packet.get() == "outside"  # a packet's changes stay its own


async def test_cancel_stops_packets_stuck_in_flight() -> None:
    scheduler, recorder = make(limit=4)
    recorder.gate = asyncio.get_running_loop().create_future()  # never completed
    feed(scheduler, "request-1")
    await asyncio.sleep(0)
    scheduler.cancel()
    for _ in range(3):
        await asyncio.sleep(0)
    assert scheduler.in_flight == 0
    assert recorder.finished == []
    await asyncio.wait_for(scheduler.join(), 1)


async def test_a_packet_waiting_on_a_lock_is_resumed_when_it_is_released() -> None:
    lock = asyncio.Lock()
    order: list[str] = []

    async def run(item: str) -> None:
        async with lock:
            order.append(item)
            if item == "first":
                await asyncio.sleep(0)  # a bare yield: resumed on the next loop turn

    scheduler = PacketScheduler(run, 4, WorkQueue(10, 60), lambda i, e: None)
    scheduler.submit("first", urgent=True)
    scheduler.submit("second", urgent=True)
    scheduler.pump()
    assert order == ["first"] and scheduler.in_flight == 2
    await asyncio.wait_for(scheduler.join(), 1)
    assert order == ["first", "second"]



async def test_a_spawned_side_coroutine_runs_without_a_task_or_a_slot() -> None:
    scheduler, recorder = make(limit=1)
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[object] = []

    async def side() -> None:
        seen.append(asyncio.current_task())  # the caller's: it runs inside spawn()
        await gate
        seen.append(asyncio.current_task())  # resumed from the future's callback

    caller = asyncio.current_task()
    scheduler.spawn(side())
    assert seen == [caller] and scheduler.in_flight == 0
    feed(scheduler, "discover-1")  # the only exchange slot is still free
    assert recorder.finished == ["discover-1"]
    gate.set_result(None)
    await asyncio.sleep(0)
    assert seen == [caller, None]  # no Task was made for it
