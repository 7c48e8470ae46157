"""The call of an async hook on the packet path, and the figures every call keeps.

Compiled with the packet path (setup.py): with a callout in every slot the
server makes nine hook calls per DORA, and what the server does around each
one (count it, time it, check what it handed back) is here, native. The
rarer outcomes (a failure, a timeout, garbage, a hook that waits) go back to
the dispatcher's books (dhcpd/hooks/dispatcher.py), which log and quarantine.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from dhcpd.records import native_record

from .api import NewPacketVerdict

# Final module constants compile to C statics, not a lookup in the module's dict per use.
perf_counter: Final = time.perf_counter
next_step: Final = next  # a builtin is otherwise looked up in builtins at each call

# Upper bounds (seconds) of the per-hook duration histogram
# (dhcpd_hook_duration_seconds in dhcpd/metrics.py).
DURATION_BUCKETS: Final[tuple[float, ...]] = (
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
RETURNING: Final = frozenset({"new_packet", "packet_send"})  # the hooks that hand back values
_FINISHED: Final = object()  # what next(coroutine.__await__(), _FINISHED) gives at the end


class CallStatus(enum.Enum):
    OK = "ok"
    SKIPPED = "skipped"  # empty slot or quarantined
    FAILED = "failed"  # raised, or handed back something invalid
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True, init=False)
class HookOutcome:
    status: CallStatus
    value: Any
    drop: bool  # a timeout whose policy says: drop the packet

    def __init__(self, status: CallStatus, value: Any = None, drop: bool = False) -> None:
        self.status = status  # type: ignore[misc]  # frozen: the only stores
        self.value = value  # type: ignore[misc]
        self.drop = drop  # type: ignore[misc]

    @property
    def ok(self) -> bool:
        return self.status is CallStatus.OK


native_record(HookOutcome)

SKIPPED: Final = HookOutcome(CallStatus.SKIPPED)
OK_NONE: Final = HookOutcome(CallStatus.OK)
FAILED: Final = HookOutcome(CallStatus.FAILED)


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

    def finished(self, started: float) -> float:
        """Book a finished call that began at `started` (perf_counter); its duration."""
        elapsed = perf_counter() - started
        self.total_seconds += elapsed
        if elapsed > self.max_seconds:
            self.max_seconds = elapsed
        self.durations[bucket_of(elapsed)] += 1
        return elapsed

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": self.calls, "failures": self.failures, "timeouts": self.timeouts,
            "total_seconds": round(self.total_seconds, 6),
            "max_seconds": round(self.max_seconds, 6), "quarantined": self.quarantined,
        }


def bucket_of(seconds: float) -> int:
    """The index in HookStats.durations of a call that took `seconds`: that of the
    first bound it does not exceed (bisect_left), found from the smallest up, since
    nearly every call falls in the first."""
    index = 0
    for bound in DURATION_BUCKETS:
        if seconds <= bound:
            return index
        index += 1
    return index


def valid_return(slot: str, value: Any) -> bool:
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


class GarbageBooks(Protocol):
    """Where a hook that handed back something invalid is logged and counted."""

    def _returned_garbage(self, slot: str, stats: HookStats, value: Any) -> HookOutcome: ...


class Books(GarbageBooks, Protocol):
    """The dispatcher's side of a call that did not simply end well."""

    def _finish(self, slot: str, stats: HookStats, started: float, coroutine: Any,
                pending: Any, deadline: float) -> Awaitable[HookOutcome]: ...

    def _timed_out(self, slot: str, stats: HookStats, started: float) -> HookOutcome: ...

    def _failed_call(self, slot: str, stats: HookStats, started: float,
                     exc: BaseException) -> HookOutcome: ...


def ended_well(books: GarbageBooks, slot: str, stats: HookStats, started: float,
               value: Any) -> HookOutcome:
    """The books of a call that ended without raising or timing out, and its outcome:
    what a returning hook handed back is checked before anyone uses it."""
    stats.finished(started)
    if value is not None and slot in RETURNING and not valid_return(slot, value):
        return books._returned_garbage(slot, stats, value)
    stats.consecutive_problems = 0
    return OK_NONE if value is None else HookOutcome(CallStatus.OK, value)


class AsyncHookCall:
    """The call of one slot's `async def` hook, bound to its books: calling it gives
    the outcome at once when the hook finished without waiting (the common case: no
    timer, no task, no coroutine of ours), else an awaitable of the outcome."""

    def __init__(self, slot: str, hook: Callable[[Any], Any], stats: HookStats,
                 deadline: float, books: Books) -> None:
        self.slot = slot
        self.hook = hook
        self.stats = stats
        self.deadline = deadline
        self.books = books
        self.returning = slot in RETURNING
        self.returned: Any = None  # see _returning

    def __call__(self, event: object) -> HookOutcome | Awaitable[HookOutcome]:
        stats = self.stats
        stats.calls += 1
        started = perf_counter()
        try:
            coroutine = self.hook(event)
            if self.returning:
                coroutine = self._returning(coroutine)
            # Its first step, inline. next() with a default steps it as send(None)
            # does, without the StopIteration that send() raises at the end: a
            # caught exception would cost three times the rest of the call.
            pending = next_step(coroutine.__await__(), _FINISHED)
            if pending is not _FINISHED:  # it waits: on with a deadline
                return self.books._finish(self.slot, stats, started, coroutine, pending,
                                          self.deadline)
        except TimeoutError:
            return self.books._timed_out(self.slot, stats, started)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a hook's sys.exit() must not stop the server
            return self.books._failed_call(self.slot, stats, started, exc)
        value: Any = None  # what a hook that returns nothing of use returned is ignored
        if self.returning:
            value, self.returned = self.returned, None
        return ended_well(self.books, self.slot, stats, started, value)

    async def _returning(self, coroutine: Any) -> Any:
        """The hook's coroutine, with what it returns also left in self.returned.

        Compiled, this `await` takes the value as CPython hands it over, with no
        StopIteration; __call__ reads it right after the step that finished (no
        other call can run in between); a hook that waits gets it from here too.
        """
        value = self.returned = await coroutine
        return value
