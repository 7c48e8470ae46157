"""Runs one coroutine per received packet, at most `limit` at once, without a Task each.

The receive path queues each datagram (WorkQueue: bounded, REQUESTs before
DISCOVERs) and calls `pump()` once per batch read from the sockets. `pump()`
starts queued packets, urgent first, and runs each one's coroutine directly:
a DISCOVER, which never waits on anything, is answered within `pump()`, with
no Task, no worker and no extra loop turn. A packet that waits (a REQUEST for
its lease commit, a contended lock) is parked on the future it waits for and
stepped again from that future's done callback. This is what an asyncio Task
does, minus its scheduling hops; it roughly halves the per-packet overhead of
a worker pool.

No Task runs these steps, so code on that path must not need
`asyncio.current_task()` (asyncio.timeout does, and asyncio.wait_for since
Python 3.12). The callout dispatchers keep their deadlines with timers
(dhcpd/hooks/dispatcher.py), so packets with callouts run the same way.

`pump()` starts at most `batch` packets per call and asks the loop for another
call for the rest, so that under overload the loop still reads the sockets
(where REQUESTs may wait) between batches, and the queue, not the kernel's
socket buffer, decides what is dropped. Each packet runs in its own copy of
the context the scheduler was created in, so one packet's log context never
leaks into another's.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine, Generator
from functools import partial
from typing import Any, Final, Generic, TypeVar

from dhcpd.workqueue import WorkQueue

T = TypeVar("T")
PacketCoroutine = Coroutine[Any, Any, None]


class _Finished:
    """What a packet's coroutine yields as its very last step, instead of returning.

    A returning coroutine raises StopIteration out of `send`, and an exception
    through compiled code builds a traceback entry per function on its way
    (~2 % of the main thread at 3,000 DORA/s). `_step` sees this value, stops,
    and drops the coroutine where it stands (its `finally` blocks have run)."""

    def __await__(self) -> Generator[Any, None, None]:
        yield self


FINISHED: Final = _Finished()


class PacketScheduler(Generic[T]):
    def __init__(
        self,
        run: Callable[[T], PacketCoroutine],
        limit: int,
        queue: WorkQueue[T],
        on_error: Callable[[T, Exception], None],
        batch: int = 64,
    ) -> None:
        self._run = run
        self.limit = limit
        self.queue = queue
        self.batch = batch
        self._on_error = on_error
        self._loop: asyncio.AbstractEventLoop | None = None
        self._root = contextvars.copy_context()
        self._in_flight = 0
        self._pumping = False
        self._pump_scheduled = False
        # coroutines waiting on a future, stepped again when it is done
        self._parked: dict[PacketCoroutine, contextvars.Context] = {}
        self._idle: asyncio.Event | None = None

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def submit(self, item: T, urgent: bool) -> T | None:
        """Queue `item` for the next pump(); return the packet lost for want of room,
        if any (see WorkQueue.put)."""
        return self.queue.put(item, urgent)

    def pump(self) -> None:
        """Start queued packets while slots are free, at most `batch` now.

        Re-entry safe: a packet that finishes inside this loop calls pump()
        again, which leaves the starting to the outer call.
        """
        if self._pumping:
            return
        self._pumping = True
        try:
            started = 0
            while self._in_flight < self.limit:
                if started == self.batch:
                    self._pump_later()
                    break
                item = self.queue.take()
                if item is None:
                    break
                started += 1
                self._start(item)
        finally:
            self._pumping = False
        if self._in_flight == 0 and self._idle is not None and not self.queue:
            self._idle.set()

    def spawn(self, coro: PacketCoroutine) -> None:
        """Run a side coroutine (not a packet: neither queued nor counted) the
        same way, without a Task; it must handle its own exceptions."""
        self._step(coro, self._root.copy())

    async def join(self) -> None:
        """Wait until nothing is queued or in flight."""
        if self._in_flight == 0 and not self.queue:
            return
        if self._idle is None:
            self._idle = asyncio.Event()
        self._idle.clear()
        self.pump()
        await self._idle.wait()

    def cancel(self) -> None:
        """Cancel every packet in flight (shutdown, after the drain deadline)."""
        parked, self._parked = self._parked, {}  # their callbacks now find nothing to do
        for coro, context in parked.items():
            self._step(coro, context, asyncio.CancelledError())

    # --- running ---------------------------------------------------------------

    def _start(self, item: T) -> None:
        self._in_flight += 1
        self._step(self._guarded(item), self._root.copy())

    def _step(
        self, coro: PacketCoroutine, context: contextvars.Context,
        exc: BaseException | None = None,
    ) -> None:
        """Run `coro` until it waits or ends (Task.__step's protocol, reduced)."""
        try:
            awaited = (context.run(coro.send, None) if exc is None
                       else context.run(coro.throw, exc))
        except (StopIteration, asyncio.CancelledError):
            return
        if awaited is FINISHED:
            return
        if awaited is None:  # a bare `yield` (asyncio.sleep(0)): go on next loop turn
            self._loop_now().call_soon(self._step, coro, context)
            return
        # An awaited future announces itself with _asyncio_future_blocking.
        if getattr(awaited, "_asyncio_future_blocking", None) is not True:
            self._step(coro, context, RuntimeError(f"packet coroutine yielded {awaited!r}"))
            return
        awaited._asyncio_future_blocking = False
        self._parked[coro] = context
        awaited.add_done_callback(partial(self._resume, coro))

    def _resume(self, coro: PacketCoroutine, _awaited: asyncio.Future[Any]) -> None:
        # What it waited for is done; its result or exception reaches the
        # coroutine through Future.__await__.
        context = self._parked.pop(coro, None)
        if context is not None:
            self._step(coro, context)

    async def _guarded(self, item: T) -> None:
        try:
            await self._run(item)
        except Exception as exc:
            self._on_error(item, exc)
        finally:
            self._in_flight -= 1
            # Inside pump() (a packet that never waited), pump() goes on starting
            # packets. From a callback (its commit is done), the next packets start
            # in this turn's one extra pump, not here: a batch of commits finishing
            # together would otherwise start a pump's worth each and leave the
            # sockets unread (see the module docstring).
            if not self._pumping:
                if self.queue:
                    self._pump_later()
                elif self._in_flight == 0 and self._idle is not None:
                    self._idle.set()
        await FINISHED  # ends here without StopIteration (see _Finished)

    def _pump_later(self) -> None:
        if not self._pump_scheduled:
            self._pump_scheduled = True
            self._loop_now().call_soon(self._scheduled_pump)

    def _scheduled_pump(self) -> None:
        self._pump_scheduled = False
        self.pump()

    def _loop_now(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop
