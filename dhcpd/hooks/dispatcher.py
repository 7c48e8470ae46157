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
import bisect
import enum
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

from .api import HOOK_NAMES, HookTable, NewPacketVerdict

log = get_logger("dhcpd.hooks")
perf_counter = time.perf_counter

OnTimeout = Literal["continue", "drop"]


@dataclass(frozen=True, slots=True)
class HookPolicy:
    deadline: float = 1.0  # seconds
    on_timeout: OnTimeout = "continue"


class CallStatus(enum.Enum):
    OK = "ok"
    SKIPPED = "skipped"  # empty slot or quarantined
    FAILED = "failed"  # raised, or handed back something invalid
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class HookOutcome:
    status: CallStatus
    value: Any = None
    drop: bool = False  # a timeout whose policy says: drop the packet

    @property
    def ok(self) -> bool:
        return self.status is CallStatus.OK


SKIPPED = HookOutcome(CallStatus.SKIPPED)
OK_NONE = HookOutcome(CallStatus.OK)
FAILED = HookOutcome(CallStatus.FAILED)
_RETURNING = frozenset({"new_packet", "packet_send"})  # the hooks that hand back values
_FINISHED = object()  # what next(coroutine.__await__(), _FINISHED) gives for a finished hook


# Upper bounds (seconds) of the per-hook duration histogram
# (dhcpd_hook_duration_seconds in dhcpd/metrics.py).
DURATION_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
_bucket = bisect.bisect_left


@dataclass
class HookStats:
    """One slot's figures, kept by the calls themselves on the event-loop thread and
    read as they are by the control API and the metrics (no call per hook to record)."""

    calls: int = 0  # started
    failures: int = 0  # raised, handed back garbage, or could not be made
    timeouts: int = 0
    total_seconds: float = 0.0
    max_seconds: float = 0.0
    consecutive_problems: int = 0
    quarantined: bool = False
    # Finished calls by duration: one count per DURATION_BUCKETS bound, the last
    # above them all. Every finished call is in exactly one (so the calls that
    # ended well are sum(durations) - failures - timeouts).
    durations: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": self.calls, "failures": self.failures, "timeouts": self.timeouts,
            "total_seconds": round(self.total_seconds, 6),
            "max_seconds": round(self.max_seconds, 6), "quarantined": self.quarantined,
        }


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


def _valid(slot: str, value: Any) -> bool:
    """What each hook may hand back; anything else is a failure and is ignored."""
    if slot == "new_packet":
        return value is None or (
            isinstance(value, NewPacketVerdict)
            and (value.packet is None or isinstance(value.packet, bytes | bytearray))
            and isinstance(value.process, bool)
        )
    if slot == "packet_send":
        return value is None or isinstance(value, bytes | bytearray)
    return True  # the other hooks only observe: what they return is ignored


class Dispatcher(Protocol):
    """What the pipeline, the packet hooks and the app use of a dispatcher.

    CalloutDispatcher (in-process) and IsolatedDispatcher (dhcpd/hooks/isolation.py,
    the callout in a worker process) both satisfy it.
    """

    module: str | None

    @property
    def callers(self) -> Mapping[str, Caller]:
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
        elapsed = perf_counter() - started
        stats.total_seconds += elapsed
        if elapsed > stats.max_seconds:
            stats.max_seconds = elapsed
        stats.durations[_bucket(DURATION_BUCKETS, elapsed)] += 1
        if slot in _RETURNING and not _valid(slot, value):
            stats.failures += 1
            log.warning("callout_returned_garbage", hook=slot, module=self.module,
                        returned=type(value).__name__)
            self._problem(slot, stats)
            return HookOutcome(CallStatus.FAILED)
        stats.consecutive_problems = 0
        return OK_NONE if value is None else HookOutcome(CallStatus.OK, value)

    def _timed_out(self, slot: str, stats: HookStats, started: float) -> HookOutcome:
        policy = self._policies[slot]
        elapsed = self._timed(stats, started)
        stats.timeouts += 1
        log.warning("callout_timeout", hook=slot, module=self.module,
                    deadline=policy.deadline, seconds=round(elapsed, 3),
                    action=policy.on_timeout)
        self._problem(slot, stats)
        return HookOutcome(CallStatus.TIMEOUT, drop=policy.on_timeout == "drop")

    @staticmethod
    def _timed(stats: HookStats, started: float) -> float:
        """The books of a call that did not end well (the caller counts how)."""
        elapsed = perf_counter() - started
        stats.total_seconds += elapsed
        stats.max_seconds = max(stats.max_seconds, elapsed)
        stats.durations[_bucket(DURATION_BUCKETS, elapsed)] += 1
        return elapsed

    def _failed_call(
        self, slot: str, stats: HookStats, started: float, exc: BaseException
    ) -> HookOutcome:
        self._timed(stats, started)
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
            return self._async_caller(slot, hook)
        return functools.partial(self._call_plain, slot, hook)

    def _async_caller(self, slot: str, hook: Any) -> Caller:
        """The call of an async hook, for every hook of every packet: its books are
        bound in, and the common path (the hook finishes without waiting: no timer,
        no task, no coroutine of ours) is kept short; _finish takes a hook that waits."""
        stats = self._stats[slot]
        deadline = self._policies[slot].deadline
        returning = slot in _RETURNING
        books = self

        def call(event: Any) -> HookOutcome | Awaitable[HookOutcome]:
            stats.calls += 1
            started = perf_counter()
            try:
                coroutine = hook(event)
                if returning:
                    try:
                        pending = coroutine.send(None)  # its first step, inline
                    except StopIteration as done:
                        value = done.value
                    else:
                        return books._finish(slot, stats, started, coroutine, pending, deadline)
                else:
                    # What it returns is ignored: next() with a default steps it as
                    # send(None) does, without the StopIteration that send() raises
                    # at the end (CPython makes none when it returns None).
                    pending = next(coroutine.__await__(), _FINISHED)
                    if pending is not _FINISHED:
                        return books._finish(slot, stats, started, coroutine, pending, deadline)
                    value = None
            except TimeoutError:
                return books._timed_out(slot, stats, started)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # a hook's sys.exit() must not stop the server
                return books._failed_call(slot, stats, started, exc)
            return books._ok(slot, stats, started, value)

        return call

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
