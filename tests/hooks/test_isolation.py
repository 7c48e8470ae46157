"""callouts.isolation: process — hooks in a worker process, and what it contains.

Callout modules are written to tmp_path; the worker is a real child process.
Hooks note what they see in a JSON-lines file (they run in another process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from dhcpd import logsetup
from dhcpd.config.models import CalloutSettings
from dhcpd.hooks import (
    AddressOfferEvent,
    ClientKind,
    ControlCode,
    ControlEvent,
    DeleteClientEvent,
    DropReason,
    HandleOptionsEvent,
    NewPacketEvent,
    NewPacketVerdict,
    OfferKind,
    PacketDropEvent,
    PacketSendEvent,
    ServerOptions,
)
from dhcpd.hooks.calling import CallStatus
from dhcpd.hooks.dispatcher import HookPolicy
from dhcpd.hooks.isolation import IsolatedDispatcher
from dhcpd.hooks.setup import build_dispatcher
from dhcpd.wire import MessageType
from tests.factories import SERVER_ADDRESS, request
from tests.hooks.test_dispatcher import without_task
from tests.hooks.test_hook_points import World

A = IPv4Address("192.0.2.1")

HEADER = '''
import asyncio, ctypes, json, os, time
from dhcpd.hooks import HookTable, NewPacketVerdict, DropReason
LOG = __LOG__
def note(**record):
    record["pid"] = os.getpid()
    with open(LOG, "a") as f:
        f.write(json.dumps(record) + "\\n")
'''

NORMAL = HEADER + '''
def dhcp_server_callout_entry(chain, api_version, settings):
    async def control(event):
        note(hook="control", code=event.code.name)
    async def new_packet(event):
        context = {"made_in": os.getpid()}
        return NewPacketVerdict(context=context)
    def packet_send(event):  # plain: in the worker's thread pool
        note(hook="packet_send", context=event.context)
        return event.response[:44] + b"isolated" + event.response[52:]
    async def packet_drop(event):
        note(hook="packet_drop", reason=event.reason.name, context=event.context)
    def address_offer(event):
        note(hook="address_offer", context=event.context)
        return lambda: None  # ignored: an observing hook's value is not sent back
    return HookTable(control=control, new_packet=new_packet, packet_send=packet_send,
                     packet_drop=packet_drop, address_offer=address_offer)
'''

# One module with a hook per hazard; `new_packet` is the healthy one.
HAZARDS = HEADER + '''
def dhcp_server_callout_entry(chain, api_version, settings):
    async def control(event):
        note(hook="control", code=event.code.name)
    async def new_packet(event):
        return None
    def packet_send(event):
        return lambda: None  # garbage (and unpicklable)
    def handle_options(event):
        kind = event.packet.decode()
        if kind == "raise":
            raise ValueError("boom")
        if kind == "sleep":
            time.sleep(60)
        if kind == "exit":
            os._exit(3)
        if kind == "segv":
            ctypes.string_at(0)
        if kind == "memory":
            bytearray(500 * 1024 * 1024)
    async def address_offer(event):
        if event.packet == b"spin":
            while True:
                pass
    async def delete_client(event):
        await asyncio.sleep(1.5)
    return HookTable(control=control, new_packet=new_packet, packet_send=packet_send,
                     handle_options=handle_options, address_offer=address_offer,
                     delete_client=delete_client)
'''


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@contextlib.contextmanager
def captured() -> Iterator[list[dict[str, Any]]]:
    with capture_logs() as logs:
        logsetup.rebind_loggers()  # module loggers pick up the capture
        try:
            yield logs
        finally:
            logsetup.rebind_loggers()


def new_packet_event(data: bytes = b"p") -> NewPacketEvent:
    return NewPacketEvent(packet=data, interface_address=A, interface="lo",
                          source_address=A, source_port=67)


def options_event(kind: str) -> HandleOptionsEvent:
    """handle_options does what its packet bytes say (raise, sleep, exit, segv, memory)."""
    return HandleOptionsEvent(packet=kind.encode(),
                              options=ServerOptions(request(MessageType.DISCOVER, 1).encode()),
                              interface_address=A, context=None)


def offer_event(packet: bytes) -> AddressOfferEvent:
    return AddressOfferEvent(packet=packet, kind=OfferKind.NEW, client=ClientKind.DHCP,
                             address=A, lease_time=60, interface_address=A, context=None)


@contextlib.asynccontextmanager
async def isolated(tmp_path: Path, source: str, **options: Any
                   ) -> AsyncIterator[tuple[IsolatedDispatcher, Path]]:
    log = tmp_path / "hooks.jsonl"
    module = tmp_path / "isolated_callout.py"
    module.write_text(source.replace("__LOG__", repr(str(log))))
    options.setdefault("restart_delay", 0.05)
    options.setdefault("policies", {"default": HookPolicy(deadline=1.0)})
    dispatcher = IsolatedDispatcher([str(module)], **options)
    await dispatcher.start()
    try:
        yield dispatcher, log
    finally:
        pid = dispatcher.pid
        await dispatcher.aclose()
        assert dispatcher.pid is None
        if pid is not None:
            assert not Path(f"/proc/{pid}").exists()  # stopped and reaped


async def running_again(dispatcher: IsolatedDispatcher, restarts: int) -> None:
    async with asyncio.timeout(10):
        while dispatcher.restarts < restarts or not dispatcher.stats()["worker"]["running"]:
            await asyncio.sleep(0.02)


async def test_hooks_run_in_the_worker_and_the_context_stays_there(tmp_path: Path) -> None:
    async with isolated(tmp_path, NORMAL) as (d, log):
        assert d.active and d.has("new_packet") and not d.has("handle_options")
        assert d.pid is not None and d.pid != os.getpid()
        assert (await d.call("control", ControlEvent(ControlCode.START))).ok
        outcome = await d.call("new_packet", new_packet_event())
        assert outcome.ok and isinstance(outcome.value, NewPacketVerdict)
        token = outcome.value.context
        assert isinstance(token, int)  # the server only carries a token
        response = request(MessageType.OFFER, 1).encode()
        sent = await d.call("packet_send", PacketSendEvent(
            response=response, request=b"", destination=A, destination_port=68,
            interface_address=A, context=token))
        assert sent.ok and sent.value[44:52] == b"isolated"
        assert (await d.call("address_offer", offer_event(b""))).ok  # lambda: not sent back
        drop = PacketDropEvent(packet=b"", reason=DropReason.PROCESSED, interface_address=A,
                               context=token)
        assert (await d.call("packet_drop", drop)).ok
        assert (await d.call("packet_drop", drop)).ok  # the token is forgotten now
        seen = records(log)
        assert {r["pid"] for r in seen} == {d.pid}
        made_in = {"made_in": d.pid}
        assert [r.get("context") for r in seen if r["hook"] != "control"] == [
            made_in, None, made_in, None]
        assert d.stats()["packet_send"]["calls"] == 1


async def test_through_the_pipeline(tmp_path: Path) -> None:
    async with isolated(tmp_path, NORMAL) as (d, log):
        w = World()
        w.dispatcher = d  # type: ignore[assignment]
        w.pipeline.callouts = d
        offer = await w.receive(request(MessageType.DISCOVER, 1))
        assert offer is not None and offer.message_type is MessageType.OFFER
        ack = await w.receive(request(MessageType.REQUEST, 1, requested=offer.yiaddr,
                                      server_id=SERVER_ADDRESS))
        assert ack is not None and ack.message_type is MessageType.ACK
        assert w.sent[-1].data[44:52] == b"isolated" and ack.sname.startswith(b"isolated")
        seen = records(log)
        assert [r["hook"] for r in seen] == [
            "packet_send", "packet_drop", "address_offer", "packet_send", "packet_drop"]
        assert all(r["context"] == {"made_in": d.pid} for r in seen)


async def test_a_raising_hook_fails_its_call_only(tmp_path: Path) -> None:
    async with isolated(tmp_path, HAZARDS) as (d, _):
        with captured() as logs:
            assert (await d.call("handle_options", options_event("raise"))).status \
                is CallStatus.FAILED
        failed = next(e for e in logs if e["event"] == "callout_failed")
        assert failed["error"] == "ValueError: boom" and "boom" in failed["traceback"]
        assert (await d.call("handle_options", options_event("fine"))).ok
        assert d.restarts == 0 and d.stats()["handle_options"]["failures"] == 1


async def test_unpicklable_or_invalid_answers_are_failures(tmp_path: Path) -> None:
    async with isolated(tmp_path, HAZARDS) as (d, _):
        response = request(MessageType.OFFER, 1).encode()
        with captured() as logs:
            outcome = await d.call("packet_send", PacketSendEvent(
                response=response, request=b"", destination=A, destination_port=68,
                interface_address=A, context=None))
        assert outcome.status is CallStatus.FAILED
        assert [e["returned"] for e in logs if e["event"] == "callout_returned_garbage"] == [
            "function"]
        assert (await d.call("new_packet", new_packet_event())).ok
        assert d.restarts == 0


@pytest.mark.parametrize("spin", [False, True], ids=["plain_sleeps", "async_spins"])
async def test_a_hanging_hook_times_out_and_the_worker_is_replaced(
    tmp_path: Path, spin: bool
) -> None:
    policies = {"default": HookPolicy(deadline=2.0), "handle_options": HookPolicy(deadline=0.3),
                "address_offer": HookPolicy(deadline=0.3)}
    async with isolated(tmp_path, HAZARDS, policies=policies) as (d, _):
        first = d.pid
        # Another call in flight (it would take 1.5 s) must not hang either.
        other = asyncio.ensure_future(d.call("new_packet", new_packet_event()))
        slow = asyncio.ensure_future(d.call("delete_client", DeleteClientEvent(
            address=A, hw_address=b"\x02" * 6, hw_type=1, client_id=None,
            client=ClientKind.DHCP)))
        hang = d.call("address_offer", offer_event(b"spin")) if spin else \
            d.call("handle_options", options_event("sleep"))
        loop = asyncio.get_running_loop()
        started = loop.time()
        with captured() as logs:
            outcome = await hang
            assert outcome.status is CallStatus.TIMEOUT
            assert loop.time() - started < 1.0
            # Answered before the worker got stuck, or failed with it: never hangs.
            assert (await other).status in (CallStatus.OK, CallStatus.FAILED)
            async with asyncio.timeout(3):
                assert (await slow).status is CallStatus.FAILED  # the worker was killed
            await running_again(d, 1)
        killed = next(e for e in logs if e["event"] == "callout_worker_killed")
        assert ("ping" in killed["reason"]) is spin
        died = next(e for e in logs if e["event"] == "callout_worker_died")
        assert died["signal"] == "SIGKILL"
        assert d.pid != first and d.kills == 1
        assert (await d.call("handle_options", options_event("fine"))).ok


@pytest.mark.parametrize(("kind", "how"), [("exit", {"code": 3}), ("segv", {"signal": "SIGSEGV"})])
async def test_a_hook_that_kills_the_worker_costs_its_call(
    tmp_path: Path, kind: str, how: dict[str, Any]
) -> None:
    async with isolated(tmp_path, HAZARDS) as (d, log):
        first = d.pid
        assert (await d.call("control", ControlEvent(ControlCode.START))).ok
        with captured() as logs:
            assert (await d.call("handle_options", options_event(kind))).status \
                is CallStatus.FAILED
            await running_again(d, 1)
        died = next(e for e in logs if e["event"] == "callout_worker_died")
        assert {key: died[key] for key in how} == how and died["pid"] == first
        assert d.stats()["worker"]["restarts"] == 1
        # The new worker got START before anything else, and serves.
        controls = [(r["code"], r["pid"]) for r in records(log) if r["hook"] == "control"]
        assert controls == [("START", first), ("START", d.pid)]
        assert (await d.call("handle_options", options_event("fine"))).ok


async def test_calls_while_the_worker_is_down_fail_at_once(tmp_path: Path) -> None:
    async with isolated(tmp_path, HAZARDS, restart_delay=0.5) as (d, _):
        assert (await d.call("handle_options", options_event("exit"))).status \
            is CallStatus.FAILED
        async with asyncio.timeout(0.2):
            for _ in range(10):
                assert (await d.call("new_packet", new_packet_event())).status \
                    is CallStatus.FAILED
        assert d.unavailable == 10 and d.has("new_packet")  # not quarantined: not its fault
        await running_again(d, 1)
        assert (await d.call("new_packet", new_packet_event())).ok


async def test_a_memory_eater_is_contained(tmp_path: Path) -> None:
    async with isolated(tmp_path, HAZARDS, memory_mb=200) as (d, _):
        with captured() as logs:
            assert (await d.call("handle_options", options_event("memory"))).status \
                is CallStatus.FAILED
        assert any("MemoryError" in e.get("error", "") for e in logs
                   if e["event"] == "callout_failed")
        assert d.restarts == 0  # RLIMIT_AS: a MemoryError, the worker lives on
        assert (await d.call("handle_options", options_event("fine"))).ok


async def test_a_module_that_does_not_load(tmp_path: Path) -> None:
    async with isolated(tmp_path, "raise ImportError('nope')\n") as (d, _):
        assert not d.active and d.pid is None
        assert (await d.call("new_packet", new_packet_event())).status is CallStatus.SKIPPED


async def test_build_dispatcher_makes_an_isolated_one(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(NORMAL.replace("__LOG__", repr(str(tmp_path / "log"))))
    dispatcher, report = build_dispatcher(CalloutSettings(
        enabled=True, modules=[str(module)], isolation="process", worker_memory_mb=300,
        worker_restart_delay=0.1, deadlines={"default": 0.7}))
    assert isinstance(dispatcher, IsolatedDispatcher) and report is None
    assert dispatcher.memory_mb == 300 and dispatcher.restart_delay == 0.1
    assert dispatcher.policy("packet_send").deadline == 0.7
    assert not dispatcher.active  # nothing is loaded in the server's process
    await dispatcher.start()
    try:
        assert dispatcher.active and dispatcher.module == str(module)
    finally:
        await dispatcher.aclose()


async def test_calls_and_their_deadlines_need_no_task(tmp_path: Path) -> None:
    policies = {"default": HookPolicy(deadline=1.0), "delete_client": HookPolicy(deadline=0.2)}
    async with isolated(tmp_path, HAZARDS, policies=policies) as (d, _):
        assert (await without_task(lambda: d.call("new_packet", new_packet_event()))).ok
        loop = asyncio.get_running_loop()
        started = loop.time()
        outcome = await without_task(lambda: d.call("delete_client", DeleteClientEvent(
            address=A, hw_address=b"\x02" * 6, hw_type=1, client_id=None,
            client=ClientKind.DHCP)))  # sleeps 1.5 s
        assert outcome.status is CallStatus.TIMEOUT and loop.time() - started < 1.0
        assert d.stats()["delete_client"]["timeouts"] == 1
        assert (await without_task(lambda: d.call("new_packet", new_packet_event()))).ok
