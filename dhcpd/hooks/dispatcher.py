"""Calling hooks safely: deadlines, thread offload, validation, quarantine, statistics.

Microsoft warns that a badly written callout can stall the server or corrupt
it, because some hooks run while the server holds its locks. Here every call
has a deadline; a plain function runs in a thread pool so that it can never
block the event loop; a hook that raises or misses its deadline costs only
its own packet (logged, counted); one that keeps failing is quarantined until
the next reload.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
import types
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from dhcpd.deadline import within
from dhcpd.logsetup import get_logger

from .api import HOOK_NAMES, HookTable
from .calling import (
    FAILED,
    SKIPPED,
    AsyncHookCall,
    CallStatus,
    HookOutcome,
    HookStats,
    ended_well,
)

log = get_logger("dhcpd.hooks")
perf_counter = time.perf_counter

OnTimeout = Literal["continue", "drop"]


@dataclass(frozen=True, slots=True)
class HookPolicy:
    deadline: float = 1.0  # seconds
    on_timeout: OnTimeout = "continue"


# One slot's call, bound: the outcome at once when the hook finished without
# waiting (the common case: no coroutine to await), else an awaitable of it.
Caller = Callable[[Any], "HookOutcome | Awaitable[HookOutcome]"]


def is_async(function: Any) -> bool:
    """A coroutine function, or an object whose __call__ is one."""
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


class _Deadline:
    """The deadline of one hook that suspended: what Task.cancel() would do, on a timer.

    No Task is needed (packets run without one, see dhcpd/scheduler.py): at
    the deadline the future the hook waits for is cancelled, so the hook gets
    CancelledError at that `await`, exactly as when its task is cancelled; if
    it waits for nothing that can be cancelled (a bare yield, a future already
    done), CancelledError is thrown into it at its next step instead.
    """

    __slots__ = ("expired", "must_cancel", "waiting")

    def __init__(self, waiting: Any) -> None:
        self.waiting = waiting
        self.expired = False
        self.must_cancel = False

    def expire(self) -> None:
        self.expired = True
        waiting = self.waiting
        if waiting is None or not waiting.cancel():
            self.must_cancel = True


@types.coroutine
def _resume(coro: Any, pending: Any, deadline: float) -> Generator[Any, None, Any]:
    """Go on driving a started coroutine, as the enclosing task would have, until `deadline`.

    The hook's first step ran directly (see `call`); only a hook that suspends
    gets here, and its deadline timer starts now. A deadline can interrupt a
    hook that awaits; one that computes without awaiting cannot be
    interrupted on the event loop, which is why slow work belongs in plain
    hooks. Raises TimeoutError when the hook ends by the deadline's
    cancellation; any other cancellation (shutdown) goes on up.
    """
    deadline_state = _Deadline(pending)
    timer = asyncio.get_running_loop().call_later(deadline, deadline_state.expire)
    try:
        while True:
            try:
                try:
                    yield pending  # the future it waits for, handed to whoever steps us
                except BaseException as exc:  # a cancellation goes into the hook
                    deadline_state.must_cancel = False
                    pending = coro.throw(exc)
                else:
                    if deadline_state.must_cancel:
                        deadline_state.must_cancel = False
                        pending = coro.throw(asyncio.CancelledError())
                    else:
                        pending = coro.send(None)  # resumed as asyncio.Task resumes: with None
            except StopIteration as done:
                return done.value
            except asyncio.CancelledError:
                if deadline_state.expired:
                    raise TimeoutError from None
                raise
            deadline_state.waiting = pending
    finally:
        timer.cancel()


class Dispatcher(Protocol):
    """What the pipeline, the packet hooks and the app use of a dispatcher.

    CalloutDispatcher (in-process) and IsolatedDispatcher (dhcpd/hooks/isolation.py,
    the callout in a worker process) both satisfy it.
    """

    module: str | None

    @property
    def callers(self) -> dict[str, Caller]:
        """The slots that may be called now (filled, not quarantined), each bound to
        its call, for the packet path: `callers[slot](event)` is `call(slot, event)`
        without the lookups, and without a coroutine for a hook that finishes at
        once: it is the outcome itself, or else an awaitable of it
        (`if not isinstance(outcome, HookOutcome): outcome = await outcome`).
        A quarantined slot is taken out."""

    @property
    def active(self) -> bool: ...

    def has(self, slot: str) -> bool: ...

    def stats(self) -> dict[str, dict[str, Any]]: ...

    def hook_stats(self) -> Mapping[str, HookStats]:
        """The live figures per slot (for the metrics, read at scrape time)."""

    def policy(self, slot: str) -> HookPolicy: ...

    async def call(self, slot: str, event: Any) -> HookOutcome: ...

    async def start(self) -> None:
        """Make it ready to be called (spawn a worker); before START is sent."""

    def close(self) -> None: ...

    async def aclose(self) -> None:
        """close(), and wait for what it started (a worker process) to be gone."""


class RemoteHookError(Exception):
    """A call that failed in a callout worker process; the message says how."""


class HookBooks:
    """The bookkeeping shared by the dispatchers: per-slot stats, policies,
    failure logging, quarantine. Subclasses set module, policies and
    quarantine_after, then call _open_books with their slots."""

    module: str | None
    policies: Mapping[str, HookPolicy]
    quarantine_after: int

    def _open_books(self, slots: Iterable[str]) -> None:
        self._stats: dict[str, HookStats] = {name: HookStats() for name in slots}
        self._policies = {name: self.policy(name) for name in self._stats}
        self._logged_first: set[str] = set()
        self.callers: dict[str, Caller] = {}
        for name in self._stats:
            self.callers[name] = self._caller(name)

    def _add_slot(self, slot: str) -> None:
        if slot not in self._stats:
            self._stats[slot] = HookStats()
            self._policies[slot] = self.policy(slot)
            self.callers[slot] = self._caller(slot)

    def _caller(self, slot: str) -> Caller:
        """`slot`'s entry in `callers`."""
        raise NotImplementedError

    # --- what is there ---------------------------------------------------------

    def has(self, slot: str) -> bool:
        return slot in self.callers

    def stats(self) -> dict[str, dict[str, Any]]:
        return {name: stats.snapshot() for name, stats in self._stats.items()}

    def hook_stats(self) -> Mapping[str, HookStats]:
        return self._stats

    def policy(self, slot: str) -> HookPolicy:
        return self.policies.get(slot) or self.policies.get("default") or HookPolicy()

    # --- outcomes ------------------------------------------------------------------

    def _ok(self, slot: str, stats: HookStats, started: float, value: Any) -> HookOutcome:
        return ended_well(self, slot, stats, started, value)

    def _returned_garbage(self, slot: str, stats: HookStats, value: Any) -> HookOutcome:
        stats.failures += 1
        log.warning("callout_returned_garbage", hook=slot, module=self.module,
                    returned=type(value).__name__)
        self._problem(slot, stats)
        return FAILED

    def _timed_out(self, slot: str, stats: HookStats, started: float) -> HookOutcome:
        policy = self._policies[slot]
        elapsed = stats.finished(started)
        stats.timeouts += 1
        log.warning("callout_timeout", hook=slot, module=self.module,
                    deadline=policy.deadline, seconds=round(elapsed, 3),
                    action=policy.on_timeout)
        self._problem(slot, stats)
        return HookOutcome(CallStatus.TIMEOUT, drop=policy.on_timeout == "drop")

    def _failed_call(
        self, slot: str, stats: HookStats, started: float, exc: BaseException
    ) -> HookOutcome:
        stats.finished(started)
        self._failed(slot, stats, exc)
        return FAILED

    def _failed(
        self, slot: str, stats: HookStats, exc: BaseException, traceback: str | None = None
    ) -> None:
        """A failed call; `traceback` is the text of one that happened elsewhere (a worker)."""
        stats.failures += 1
        if slot not in self._logged_first:
            # The first failure in full (Microsoft's event 1031), then counted.
            self._logged_first.add(slot)
            if isinstance(exc, RemoteHookError):
                log.error("callout_failed", hook=slot, module=self.module,
                          error=str(exc), traceback=traceback)
            else:
                log.error("callout_failed", hook=slot, module=self.module,
                          exc_info=(type(exc), exc, exc.__traceback__))
        else:
            error = str(exc) if isinstance(exc, RemoteHookError) else f"{type(exc).__name__}: {exc}"
            log.warning("callout_failed", hook=slot, module=self.module,
                        error=error, failures=stats.failures)
        self._problem(slot, stats)

    def _problem(self, slot: str, stats: HookStats) -> None:
        stats.consecutive_problems += 1
        if self.quarantine_after and stats.consecutive_problems >= self.quarantine_after:
            stats.quarantined = True
            self.callers.pop(slot, None)
            log.error("callout_quarantined", hook=slot, module=self.module,
                      consecutive_problems=stats.consecutive_problems,
                      until="the next configuration reload")


@dataclass
class CalloutDispatcher(HookBooks):
    """The callout in the server's own process (callouts.isolation: none)."""

    table: HookTable | None
    module: str | None = None
    policies: Mapping[str, HookPolicy] = field(default_factory=dict)
    quarantine_after: int = 5
    thread_workers: int = 8
    active: bool = field(init=False, default=False)  # some slot is filled

    def __post_init__(self) -> None:
        table = self.table or HookTable()
        self._hooks: dict[str, Any] = {
            name: getattr(table, name) for name in HOOK_NAMES if getattr(table, name) is not None
        }
        self._executor: ThreadPoolExecutor | None = None
        self._open_books(self._hooks)
        # Read for every packet: an attribute (the table never changes), no property.
        self.active = bool(self._hooks)


    async def start(self) -> None:
        """Nothing to start in-process."""

    # --- calling -------------------------------------------------------------------

    async def call(self, slot: str, event: Any) -> HookOutcome:
        caller = self.callers.get(slot)
        if caller is None:  # empty or quarantined
            return SKIPPED
        outcome = caller(event)
        return outcome if isinstance(outcome, HookOutcome) else await outcome

    def _caller(self, slot: str) -> Caller:
        hook = self._hooks[slot]
        if is_async(hook):
            return AsyncHookCall(slot, hook, self._stats[slot],
                                 self._policies[slot].deadline, self)
        return functools.partial(self._call_plain, slot, hook)

    async def _finish(self, slot: str, stats: HookStats, started: float, coroutine: Any,
                      pending: Any, deadline: float) -> HookOutcome:
        """The rest of an async hook that waits, until its deadline."""
        return await self._settle(slot, stats, started, _resume(coroutine, pending, deadline))

    async def _call_plain(self, slot: str, hook: Any, event: Any) -> HookOutcome:
        """A plain hook, in the thread pool."""
        stats = self._stats[slot]
        stats.calls += 1
        started = perf_counter()

        async def in_thread() -> Any:
            loop = asyncio.get_running_loop()
            # Abandoned on timeout: the thread runs on, but nobody waits for it.
            return await within(loop.run_in_executor(self._pool(), hook, event),
                                self._policies[slot].deadline)

        return await self._settle(slot, stats, started, in_thread())

    async def _settle(self, slot: str, stats: HookStats, started: float,
                      call: Awaitable[Any]) -> HookOutcome:
        """The outcome of a hook call that waits: its value, a timeout or a failure."""
        try:
            value = await call
        except TimeoutError:
            return self._timed_out(slot, stats, started)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a hook's sys.exit() must not stop the server
            return self._failed_call(slot, stats, started, exc)
        return self._ok(slot, stats, started, value)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.thread_workers, thread_name_prefix="callout"
            )
        return self._executor

    def close(self) -> None:
        """Release the thread pool (calls already queued still run; none is waited for)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    async def aclose(self) -> None:
        self.close()


NO_CALLOUTS = CalloutDispatcher(None)
