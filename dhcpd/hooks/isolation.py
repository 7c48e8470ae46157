"""callouts.isolation: process — the callout module in a worker process.

A hook that raises, hangs, calls os._exit, segfaults or eats memory costs
only its own packet (and the calls in flight with it): the worker
(dhcpd/hooks/worker.py) is killed if need be and restarted, and the server
keeps serving. IsolatedDispatcher has the interface of CalloutDispatcher
(the Dispatcher protocol) and the same bookkeeping (HookBooks): per-slot
stats, failure logging and quarantine.

- Deadlines are kept here. A call that misses its deadline returns TIMEOUT at
  once; in the background the worker is told to abandon it and asked whether
  it is still running. No answer within `ping_grace` (its event loop is
  stuck), or "still running" (a plain hook stuck in its thread, which only
  killing the process can reclaim): the worker is killed (SIGKILL).
- When the worker dies (EOF on its stdout), every call in flight completes as
  FAILED, `callout_worker_died` is logged with the exit code or signal, the
  restart is counted, and a new worker is started after `restart_delay`
  (doubling up to 30 s while it keeps dying within 5 s of its start). The new
  worker is sent START (and PAUSE, if that was the last control code) before
  it takes packets: its module state is fresh.
- While no worker runs, calls fail at once (counted as failures and as
  `unavailable`, not towards quarantine: the hook did not fail).
- Packet contexts stay in the worker; the server carries an int token.
- Answers are unpickled with an allow-list (None, bytes, str, bool, int and
  NewPacketVerdict): the callout's own classes are never imported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import itertools
import os
import pickle
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dhcpd.logsetup import current_logging, get_logger

from .api import ControlCode, ControlEvent
from .calling import SKIPPED, CallStatus, HookOutcome, HookStats
from .dispatcher import Caller, HookBooks, HookPolicy, RemoteHookError
from .worker import HEADER, MAX_FRAME, encode

log = get_logger("dhcpd.hooks")

FAILED = HookOutcome(CallStatus.FAILED)
QUICK_DEATH = 5.0  # seconds: a worker dying sooner after its start backs off the restart
MAX_RESTART_DELAY = 30.0
DRAIN_TIMEOUT = 1.0  # seconds aclose() waits for the calls in flight
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class _Answers(pickle.Unpickler):
    """Only what a worker may send back: never import a callout's classes here."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("dhcpd.hooks.api", "NewPacketVerdict"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a worker may not send {module}.{name}")


def _loads(body: bytes) -> Any:
    return _Answers(io.BytesIO(body)).load()


_TIMED_OUT = "timeout"  # the status a call's deadline answers it with (never a worker's)


def _expire(future: asyncio.Future[tuple[str, Any, str | None]]) -> None:
    if not future.done():
        future.set_result((_TIMED_OUT, None, None))


def describe_exit(code: int | None) -> dict[str, Any]:
    if code is not None and code < 0:
        try:
            return {"signal": signal.Signals(-code).name}
        except ValueError:
            return {"signal": -code}
    return {"code": code}


@dataclass(eq=False)
class IsolatedDispatcher(HookBooks):
    modules: Sequence[str]
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    policies: Mapping[str, HookPolicy] = field(default_factory=dict)
    quarantine_after: int = 5
    thread_workers: int = 8
    memory_mb: int | None = None
    restart_delay: float = 0.5
    start_timeout: float = 30.0  # seconds for a worker to load the module and say hello
    ping_grace: float = 0.2  # seconds a worker has to answer after a missed deadline
    module: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._open_books(())
        self._slots: frozenset[str] = frozenset()
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None  # None: no worker takes calls
        self._pending: dict[int, asyncio.Future[tuple[str, Any, str | None]]] = {}
        self._ids = itertools.count(1)
        self._generation = 0
        self._closing = False
        self._started_at = 0.0
        self._next_delay = self.restart_delay
        self._last_control: ControlCode | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reader: asyncio.Task[Any] | None = None
        self.restarts = 0
        self.unavailable = 0
        self.kills = 0

    # --- what is there ---------------------------------------------------------

    @property
    def active(self) -> bool:
        return bool(self._slots)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stats(self) -> dict[str, dict[str, Any]]:
        stats = super().stats()
        stats["worker"] = {"pid": self.pid, "running": self._writer is not None,
                           "restarts": self.restarts, "kills": self.kills,
                           "unavailable": self.unavailable}
        return stats

    # --- the worker's life ------------------------------------------------------

    async def start(self) -> None:
        """Spawn the worker and learn its hook table (before START is sent)."""
        if self._process is None and not self._closing:
            await self._spawn()

    async def _spawn(self) -> bool:
        self._generation += 1
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [_PACKAGE_ROOT, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
        env["DHCPD_WORKER_PARENT"] = str(os.getpid())
        if self.memory_mb is not None:
            # glibc reserves 64 MiB of address space per thread arena: keep few.
            env.setdefault("MALLOC_ARENA_MAX", "2")
        self._started_at = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dhcpd.hooks.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
            limit=MAX_FRAME,
        )
        self._process = process
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(encode(("init", {
            "modules": list(self.modules),
            "settings": {k: dict(v) for k, v in self.settings.items()},
            "memory_mb": self.memory_mb, "thread_workers": self.thread_workers,
            "generation": self._generation, "sys_path": list(sys.path),
            "log": current_logging(),
        })))
        try:
            async with asyncio.timeout(self.start_timeout):
                size = HEADER.unpack(await process.stdout.readexactly(HEADER.size))[0]
                kind, module, slots, _failures = _loads(await process.stdout.readexactly(size))
            assert kind == "hello"
        except (Exception, TimeoutError) as exc:
            log.error("callout_worker_start_failed", pid=process.pid,
                      error=f"{type(exc).__name__}: {exc}")
            self._background(self._died(process))
            return False
        self.module = module
        self._slots = frozenset(slots)
        for slot in slots:
            self._add_slot(slot)
        log.info("callout_worker_started", pid=process.pid, module=module, hooks=list(slots),
                 generation=self._generation)
        if not slots:  # nothing loaded: no worker needed (it exits by itself)
            await process.wait()
            self._process = None
            return True
        self._reader = self._background(self._read(process, process.stdout))
        if self._generation > 1 and self._last_control is not None and "control" in slots:
            # A fresh module state: START it before it takes packets.
            await self._invoke(process.stdin, "control", ControlEvent(ControlCode.START))
            if self._last_control is ControlCode.PAUSE:
                await self._invoke(process.stdin, "control", ControlEvent(ControlCode.PAUSE))
        if self._process is process:
            self._writer = process.stdin
        return True

    async def _read(self, process: asyncio.subprocess.Process,
                    reader: asyncio.StreamReader) -> None:
        try:
            while True:
                size = HEADER.unpack(await reader.readexactly(HEADER.size))[0]
                call_id, status, value, traceback = _loads(await reader.readexactly(size))
                future = self._pending.pop(call_id, None)
                if future is not None and not future.done():
                    future.set_result((status, value, traceback))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception as exc:
            log.error("callout_worker_protocol_error", pid=process.pid,
                      error=f"{type(exc).__name__}: {exc}")
            self._kill(process, "protocol error")
        await self._died(process)

    async def _died(self, process: asyncio.subprocess.Process) -> None:
        if self._process is process:
            self._process = None
            self._writer = None
        if process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), 1.0)
            except TimeoutError:
                self._kill(process, "stdout closed but still running")
                await process.wait()
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_result(("failed", "the callout worker died", None))
        if self._closing:
            log.info("callout_worker_stopped", pid=process.pid,
                     **describe_exit(process.returncode))
            return
        self.restarts += 1
        lived = time.monotonic() - self._started_at
        if lived < QUICK_DEATH:
            delay = self._next_delay
            self._next_delay = min(max(self._next_delay * 2, 0.1), MAX_RESTART_DELAY)
        else:
            delay, self._next_delay = self.restart_delay, self.restart_delay
        log.error("callout_worker_died", pid=process.pid, module=self.module,
                  in_flight=len(pending), lived_seconds=round(lived, 3),
                  restart_in=delay, restarts=self.restarts,
                  **describe_exit(process.returncode))
        self._background(self._restart(delay))

    async def _restart(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if not self._closing and self._process is None:
            await self._spawn()

    def _kill(self, process: asyncio.subprocess.Process, reason: str) -> None:
        if process.returncode is None:
            self.kills += 1
            log.error("callout_worker_killed", pid=process.pid, reason=reason)
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    def _background(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- calling -------------------------------------------------------------------

    def _caller(self, slot: str) -> Caller:
        return functools.partial(self.call, slot)

    async def call(self, slot: str, event: Any) -> HookOutcome:
        stats = self._stats.get(slot)
        if stats is None or stats.quarantined:
            return SKIPPED
        if slot == "control":
            self._last_control = event.code
        writer = self._writer
        if writer is None:  # down (restarting): fail now, the hook is not to blame
            stats.calls += 1
            stats.failures += 1
            self.unavailable += 1
            stats.durations[0] += 1
            return FAILED
        return await self._invoke(writer, slot, event, stats)

    async def _invoke(self, writer: asyncio.StreamWriter, slot: str, event: Any,
                      stats: HookStats | None = None) -> HookOutcome:
        stats = stats or self._stats[slot]
        stats.calls += 1
        started = time.perf_counter()
        call_id = next(self._ids)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[str, Any, str | None]] = loop.create_future()
        self._pending[call_id] = future
        # The deadline answers the call itself (no task needed: packets run without one).
        timer = loop.call_later(self._policies[slot].deadline, _expire, future)
        try:
            writer.write(encode(("call", call_id, slot, event)))
            status, value, traceback = await future
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            status, value, traceback = "failed", f"cannot send the event: {exc}", None
        finally:
            timer.cancel()
            self._pending.pop(call_id, None)
        if status == _TIMED_OUT:
            self._background(self._check(call_id))
            return self._timed_out(slot, stats, started)
        if status == "ok":
            return self._ok(slot, stats, started, value)
        stats.finished(started)
        if status == "garbage":
            stats.failures += 1
            log.warning("callout_returned_garbage", hook=slot, module=self.module,
                        returned=value)
            self._problem(slot, stats)
        else:
            self._failed(slot, stats, RemoteHookError(value), traceback)
        return FAILED

    async def _check(self, call_id: int) -> None:
        """After a missed deadline: abandon the call; kill a worker that is stuck."""
        process, writer = self._process, self._writer
        if process is None or writer is None or process.returncode is not None:
            return
        ping_id = next(self._ids)
        future: asyncio.Future[tuple[str, Any, str | None]] = \
            asyncio.get_running_loop().create_future()
        self._pending[ping_id] = future
        reason = None
        try:
            writer.write(encode(("abandon", call_id, ping_id)))
            async with asyncio.timeout(self.ping_grace):
                status, stuck, _ = await future
            if status == "ok" and stuck:
                reason = "a hook is still running past its deadline"
        except TimeoutError:
            reason = f"no answer to a ping within {self.ping_grace} s"
        finally:
            self._pending.pop(ping_id, None)
        if reason is not None and self._process is process:
            self._kill(process, reason)

    # --- the end -----------------------------------------------------------------

    def close(self) -> None:
        """Kill the worker now (SIGKILL); asyncio's child watcher reaps it. Prefer aclose."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        process, self._process, self._writer = self._process, None, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    async def aclose(self) -> None:
        """Close the worker's stdin (it exits), kill it if it does not, and reap it."""
        self._closing = True
        if self._pending:  # calls in flight (a reload swapped us out): let them finish
            await asyncio.wait(list(self._pending.values()), timeout=DRAIN_TIMEOUT)
        process, writer = self._process, self._writer
        self._writer = None
        for task in list(self._tasks):
            if task is not self._reader:
                task.cancel()
        if process is not None and process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 1.0)
            except TimeoutError:
                self._kill(process, "did not exit when asked")
                await process.wait()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        self._process = None
        del writer  # closed with the process's stdin
