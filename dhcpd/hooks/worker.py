"""The callout worker process (callouts.isolation: process).

Started by IsolatedDispatcher (dhcpd/hooks/isolation.py) as
`python -m dhcpd.hooks.worker`; it talks to the server over its stdin and
stdout with length-prefixed pickle frames (struct "!I" + pickle):

    server -> worker  ("init", {modules, settings, memory_mb, thread_workers,
                                generation, sys_path, log})  once, first
                      ("call", id, slot, event)
                      ("abandon", id, ping_id)   the call missed its deadline
    worker -> server  ("hello", module, slots, failures)  once, after loading
                      (id, status, value, traceback)  status: ok | failed | garbage

The module is loaded with the server's rule (load_callouts). Calls run
concurrently: `async` hooks as tasks on this process's event loop, plain ones
in its own thread pool. Packet contexts stay here: new_packet's context is
kept under an int token that the server hands back in later events; the
token is forgotten after packet_drop with PROCESSED. Only the values the
server uses (new_packet's verdict, packet_send's bytes) are sent back, after
the same validation as in-process, normalised to plain types.

The protocol uses private copies of fds 0 and 1: fd 1 becomes stderr (a hook's
print() cannot corrupt a frame) and fd 0 /dev/null. SIGINT and SIGTERM are
ignored (the server stops the worker by closing its stdin, or kills it); the
worker exits at EOF, and with the server (PR_SET_PDEATHSIG, SIGKILL).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import dataclasses
import os
import pickle
import signal
import struct
import sys
import traceback
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

HEADER = struct.Struct("!I")
MAX_FRAME = 256 * 1024 * 1024
ABANDON_WAIT = 0.05  # seconds an abandoned call gets to end before it counts as stuck
MAX_CONTEXTS = 100_000  # tokens never freed (no packet_drop hook) are evicted, oldest first
CONTEXT_SLOTS = frozenset(
    {"packet_drop", "packet_send", "address_del", "address_offer", "handle_options"}
)


def encode(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def read_exactly(fd: int, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(fd, size - len(chunks))
        if not chunk:
            raise EOFError
        chunks += chunk
    return bytes(chunks)


def _private_fds() -> tuple[int, int]:
    """Keep the protocol's pipes for us; hooks see /dev/null and stderr."""
    proto_in, proto_out = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    return proto_in, proto_out


def _die_with_parent() -> None:
    parent = int(os.environ.get("DHCPD_WORKER_PARENT", "0"))
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if parent and os.getppid() != parent:
        os._exit(0)  # the server is already gone


def _limit_memory(megabytes: int | None) -> None:
    if megabytes is None:
        return
    import resource

    limit = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class Worker:
    def __init__(self, init: dict[str, Any], out: asyncio.WriteTransport) -> None:
        from .dispatcher import is_async

        self.out = out
        self.hooks: dict[str, Any] = init["hooks"]
        self.async_ = {slot: is_async(hook) for slot, hook in self.hooks.items()}
        self.pool = ThreadPoolExecutor(max_workers=init["thread_workers"],
                                       thread_name_prefix="callout")
        self.running: dict[int, asyncio.Task[None]] = {}
        self.threads: dict[int, concurrent.futures.Future[Any]] = {}
        self.contexts: OrderedDict[int, Any] = OrderedDict()
        self.background: set[asyncio.Task[None]] = set()
        self.next_token = init["generation"] << 40

    def send(self, message: Any) -> None:
        self.out.write(encode(message))

    def handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        loop = asyncio.get_running_loop()
        if kind == "call":
            _, call_id, slot, event = message
            self.running[call_id] = loop.create_task(self.run(call_id, slot, event))
        elif kind == "abandon":
            _, call_id, ping_id = message
            task = loop.create_task(self.abandon(call_id, ping_id))
            self.background.add(task)
            task.add_done_callback(self.background.discard)

    async def run(self, call_id: int, slot: str, event: Any) -> None:
        from .api import DropReason

        token = getattr(event, "context", None) if slot in CONTEXT_SLOTS else None
        try:
            hook = self.hooks[slot]
            if token is not None:
                event = dataclasses.replace(event, context=self.contexts.get(token))
            if self.async_[slot]:
                value = await hook(event)
            else:
                future = self.pool.submit(hook, event)
                self.threads[call_id] = future
                value = await asyncio.wrap_future(future)
            reply = self.reply(call_id, slot, value)
        except asyncio.CancelledError:
            return  # abandoned by the server: nobody waits for an answer
        except BaseException as exc:
            reply = (call_id, "failed", f"{type(exc).__name__}: {exc}",
                     "".join(traceback.format_exception(exc)))
        finally:
            self.running.pop(call_id, None)
            self.threads.pop(call_id, None)
            if slot == "packet_drop" and token is not None and \
                    getattr(event, "reason", None) is DropReason.PROCESSED:
                self.contexts.pop(token, None)
        try:
            frame = encode(reply)
        except Exception as exc:
            frame = encode((call_id, "failed",
                            f"the answer cannot be sent back: {type(exc).__name__}: {exc}", None))
        self.out.write(frame)

    def reply(self, call_id: int, slot: str, value: Any) -> tuple[Any, ...]:
        """Validate and normalise what the server will use; the rest is not sent."""
        from .api import NewPacketVerdict
        from .calling import valid_return

        if slot not in ("new_packet", "packet_send") or value is None:
            return (call_id, "ok", None, None)
        if not valid_return(slot, value):
            return (call_id, "garbage", type(value).__name__, None)
        if slot == "packet_send":
            return (call_id, "ok", bytes(value), None)
        token = None
        if value.context is not None:
            self.next_token += 1
            token = self.next_token
            self.contexts[token] = value.context
            while len(self.contexts) > MAX_CONTEXTS:
                self.contexts.popitem(last=False)
        packet = bytes(value.packet) if value.packet is not None else None
        return (call_id, "ok", NewPacketVerdict(packet, token, bool(value.process)), None)

    async def abandon(self, call_id: int, ping_id: int) -> None:
        """The server gave up on a call: cancel it; answer whether it is still stuck."""
        task, thread = self.running.get(call_id), self.threads.get(call_id)
        stuck = False
        if thread is not None and not thread.cancel():  # not merely queued: it runs
            await asyncio.wait([asyncio.wrap_future(thread)], timeout=ABANDON_WAIT)
            stuck = not thread.done()
        if task is not None:
            task.cancel()
            if thread is None:
                await asyncio.wait([task], timeout=ABANDON_WAIT)
                stuck = not task.done()
        self.send((ping_id, "ok", stuck, None))


async def serve(proto_in: int, proto_out: int) -> None:
    from dhcpd.logsetup import configure_logging

    from .loader import load_callouts

    header = read_exactly(proto_in, HEADER.size)
    kind, init = pickle.loads(read_exactly(proto_in, HEADER.unpack(header)[0]))
    assert kind == "init"
    _limit_memory(init["memory_mb"])
    for entry in init["sys_path"]:
        if entry not in sys.path:
            sys.path.append(entry)
    level, fmt = init["log"]
    configure_logging(level, fmt)
    report = load_callouts(init["modules"], init["settings"])
    active = report.active
    hooks = {} if active is None else {
        slot: getattr(active.table, slot) for slot in active.table.filled()
        if slot not in ("extension", "reserved")
    }
    hello = ("hello", active.entry if active else None, tuple(hooks), report.failures)
    os.write(proto_out, encode(hello))
    if not hooks:
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_FRAME)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 os.fdopen(proto_in, "rb", buffering=0))
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol,
                                                 os.fdopen(proto_out, "wb", buffering=0))
    worker = Worker({**init, "hooks": hooks}, transport)
    while True:
        try:
            size = HEADER.unpack(await reader.readexactly(HEADER.size))[0]
            message = pickle.loads(await reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError):
            return  # the server closed our stdin: stop now, hung threads or not
        worker.handle(message)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    proto_in, proto_out = _private_fds()
    code = 0
    try:
        asyncio.run(serve(proto_in, proto_out))
    except EOFError:
        pass
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    os._exit(code)  # do not wait for hooks still running in threads


if __name__ == "__main__":
    main()
