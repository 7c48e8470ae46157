"""A dnsmasq-compatible lease script runner (dnsmasq's ``--dhcp-script``).

What it does
------------
Runs an executable on lease changes the way dnsmasq does, so scripts written
for dnsmasq work unchanged::

    SCRIPT add|old|del MAC IP [HOSTNAME]

=========================================  ==========
event                                      action
=========================================  ==========
``address_offer`` NEW (a new lease)        ``add``
``address_offer`` OLD (a renewal)          ``old``
``address_del`` RELEASE, DECLINE, CONFLICT ``del``
``delete_client`` (record deleted)         ``del``
=========================================  ==========

``address_del`` NACKED runs nothing (no lease ends). A lease that was
released or declined gets its ``del`` then; the ``delete_client`` that
follows when its record is deleted later runs no second ``del``. A lease that
simply expires gets its ``del`` when its record is deleted (after the
server's ``hold_reclaimed_time``).

MAC is ``aa:bb:cc:dd:ee:ff``; for a hardware type other than Ethernet it is
prefixed with the type in hex, as dnsmasq does (``06-01:23:...``). HOSTNAME is
the client's host name (option 12, else the first label of option 81), when
known; it is never fully qualified.

The environment is the server's, plus (as in dnsmasq; a variable is absent
when its value is unknown):

- ``DNSMASQ_LEASE_EXPIRES``: the lease's expiry (Unix time; 0 = infinite),
  and ``DNSMASQ_LEASE_LENGTH``: its length in seconds (0 = infinite); dnsmasq
  sets one or the other depending on how it was built, we set both (add/old).
- ``DNSMASQ_TIME_REMAINING``: seconds until expiry (add and old; absent for an
  infinite lease).
- ``DNSMASQ_CLIENT_ID``: option 61 (type byte included) as ``01:02:...``.
- ``DNSMASQ_INTERFACE``: the name of the interface the request arrived on.
  Only ``new_packet`` tells the name, so this callout keeps it as its packet
  context; when it is not known (``delete_client``, or ``new_packet`` timed
  out) it holds our *address* on that interface instead (dotted quad), which
  is what the other events carry. ``DNSMASQ_INTERFACE_ADDRESS`` (ours, not
  dnsmasq's) always holds that address.
- ``DNSMASQ_RELAY_ADDRESS``: the relay's address (giaddr), when relayed.
- ``DNSMASQ_SUPPLIED_HOSTNAME``: option 12 as the client sent it.
- ``DNSMASQ_DOMAIN``: the domain part of option 81's name, when it has one.
- ``DNSMASQ_TAGS``: always empty (this server has no tags).
- ``DNSMASQ_REQUESTED_OPTIONS``: the parameter request list, ``1,3,6,15``.
- ``DNSMASQ_VENDOR_CLASS``: option 60.
- ``DNSMASQ_USER_CLASS0`` ... ``DNSMASQ_USER_CLASSn``: the classes of option 77.

Out of the hot path
-------------------
The hooks only put the event (a frozen copy already) on a bounded queue
(``queue_size``); a single worker task parses it and runs the scripts one at
a time, in order, as dnsmasq does ("at most one instance of the script is
ever running"). When the queue is full the event is dropped, counted
(``dropped``) and logged (a warning, at most once a second, with the total).
The script runs with stdin on /dev/null; what it prints is logged. It runs
in its own session: after ``timeout`` seconds the whole process group is
killed (a ``sleep`` it started too), logged and counted; a non-zero exit is
logged. The script runs as the server's user (after it dropped privileges),
not as root.

The worker is started on Control START and stopped on Control STOP, after
draining the queue for at most ``drain_timeout`` seconds (what is left is
logged and discarded, a running script is killed). The server gives the
control hook ``callouts.deadlines.control`` seconds (1 by default): set it
above ``drain_timeout`` if you want the full drain.

Settings
--------
``script`` (required)
    Path of the executable (no PATH search; must be executable).
``timeout`` (optional, seconds, default 10)
    How long one run may take before it is killed.
``queue_size`` (optional, default 1000)
    Events waiting to be run at most.
``drain_timeout`` (optional, seconds, default 5)
    How long STOP waits for the queue to drain.

Configuration
-------------
::

    callouts:
      enabled: true
      modules: [callouts/dnsmasq_script.py]
      settings:
        callouts/dnsmasq_script.py:
          script: /usr/local/sbin/lease-changed
          timeout: 10
          queue_size: 1000
      deadlines: {control: 6}   # so that STOP can drain for drain_timeout (5 s)

To use it together with other callouts, chain them through
``callouts/a_fanout.py`` (only the first module in alphabetical order is loaded).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import structlog

from callouts._settings import own_settings
from dhcpd.hooks import (
    INFINITE_LEASE,
    AddressDelEvent,
    AddressDelReason,
    AddressOfferEvent,
    CalloutRefused,
    ControlCode,
    ControlEvent,
    DeleteClientEvent,
    HookTable,
    NewPacketEvent,
    NewPacketVerdict,
    OfferKind,
)
from dhcpd.wire import (
    CLIENT_FQDN,
    HOST_NAME,
    PARAMETER_REQUEST_LIST,
    DhcpMessage,
    MalformedPacket,
    OptionCode,
)

log = structlog.get_logger("callouts.dnsmasq_script")

DEL_REASONS = (AddressDelReason.RELEASE, AddressDelReason.DECLINE, AddressDelReason.CONFLICT)
_OUTPUT_LIMIT = 4096  # bytes of a script's output that are logged


@dataclass(frozen=True, slots=True)
class ScriptJob:
    """One run of the script: its arguments and the DNSMASQ_* variables."""

    action: str  # add, old, del
    args: tuple[str, ...]  # MAC, IP[, hostname]
    env: Mapping[str, str]

    def describe(self) -> str:
        return " ".join((self.action, *self.args))


@dataclass(frozen=True, slots=True)
class LeaseEvent:
    """What a hook puts on the queue: the event as received, and when."""

    event: AddressOfferEvent | AddressDelEvent | DeleteClientEvent
    time: float

    def describe(self) -> str:
        return f"{type(self.event).__name__} {self.event.address}"


def format_mac(htype: int, address: bytes) -> str:
    """dnsmasq's MAC argument: aa:bb:..., prefixed with the type when not Ethernet."""
    text = address.hex(":")
    return text if htype == 1 else f"{htype:02x}-{text}"


def user_classes(data: bytes) -> list[bytes]:
    """RFC 3004 option 77: length-prefixed classes (one raw class if it is not that)."""
    classes: list[bytes] = []
    pos = 0
    while pos < len(data):
        length = data[pos]
        if length == 0 or pos + 1 + length > len(data):
            return [data]  # not RFC 3004 (e.g. Windows' plain string): one class
        classes.append(data[pos + 1 : pos + 1 + length])
        pos += 1 + length
    return classes


def _text(data: bytes) -> str:
    return data.rstrip(b"\0").decode("utf-8", errors="replace")


def describe_packet(packet: bytes) -> tuple[str, str | None, dict[str, str]]:
    """(MAC, hostname, DNSMASQ_* variables) from the request."""
    message = DhcpMessage.parse(packet)
    options = message.options
    env: dict[str, str] = {"DNSMASQ_TAGS": ""}
    client_id = options.get_raw(OptionCode.CLIENT_ID)
    if client_id:
        env["DNSMASQ_CLIENT_ID"] = client_id.hex(":")
    if int(message.giaddr):
        env["DNSMASQ_RELAY_ADDRESS"] = str(message.giaddr)
    hostname: str | None = None
    with contextlib.suppress(MalformedPacket):
        supplied = options.get(HOST_NAME)
        if supplied:
            env["DNSMASQ_SUPPLIED_HOSTNAME"] = supplied
            hostname = supplied.split(".", 1)[0]
    with contextlib.suppress(MalformedPacket):
        fqdn = options.get(CLIENT_FQDN)
        if fqdn is not None and fqdn.name:
            label, _, domain = fqdn.name.rstrip(".").partition(".")
            hostname = hostname or label or None
            if domain:
                env["DNSMASQ_DOMAIN"] = domain
    with contextlib.suppress(MalformedPacket):
        prl = options.get(PARAMETER_REQUEST_LIST)
        if prl:
            env["DNSMASQ_REQUESTED_OPTIONS"] = ",".join(str(code) for code in prl)
    vendor = options.get_raw(OptionCode.VENDOR_CLASS_ID)
    if vendor:
        env["DNSMASQ_VENDOR_CLASS"] = _text(vendor)
    user_class = options.get_raw(OptionCode.USER_CLASS)
    if user_class:
        for index, item in enumerate(user_classes(user_class)):
            env[f"DNSMASQ_USER_CLASS{index}"] = _text(item)
    return format_mac(message.htype, message.chaddr[: message.hlen]), hostname, env


def _interface(context: Any, address: IPv4Address) -> dict[str, str]:
    name = context if isinstance(context, str) and context else str(address)
    return {"DNSMASQ_INTERFACE": name, "DNSMASQ_INTERFACE_ADDRESS": str(address)}


def offer_job(event: AddressOfferEvent, now: float) -> ScriptJob:
    mac, hostname, env = describe_packet(event.packet)
    action = "add" if event.kind is OfferKind.NEW else "old"
    if event.lease_time == INFINITE_LEASE:
        env.update(DNSMASQ_LEASE_EXPIRES="0", DNSMASQ_LEASE_LENGTH="0")
    else:
        env.update(DNSMASQ_LEASE_EXPIRES=str(int(now) + event.lease_time),
                   DNSMASQ_LEASE_LENGTH=str(event.lease_time),
                   DNSMASQ_TIME_REMAINING=str(event.lease_time))
    env.update(_interface(event.context, event.interface_address))
    args = (mac, str(event.address), *((hostname,) if hostname else ()))
    return ScriptJob(action, args, env)


def del_job(event: AddressDelEvent) -> ScriptJob:
    mac, hostname, env = describe_packet(event.packet)
    env.update(_interface(event.context, event.interface_address))
    args = (mac, str(event.address), *((hostname,) if hostname else ()))
    return ScriptJob("del", args, env)


def delete_client_job(event: DeleteClientEvent) -> ScriptJob:
    env = {"DNSMASQ_TAGS": ""}
    if event.client_id:
        env["DNSMASQ_CLIENT_ID"] = event.client_id.hex(":")
    return ScriptJob("del", (format_mac(event.hw_type, event.hw_address), str(event.address)),
                     env)


class ScriptRunner:
    """The queue, the worker and the hooks. Counters: ran, failed, timed_out, dropped."""

    def __init__(self, script: Path, timeout: float = 10.0, queue_size: int = 1000,
                 drain_timeout: float = 5.0) -> None:
        self.script = script
        self.timeout = timeout
        self.drain_timeout = drain_timeout
        self.queue: asyncio.Queue[LeaseEvent | ScriptJob] = asyncio.Queue(maxsize=queue_size)
        self.worker: asyncio.Task[None] | None = None
        self.ran = 0
        self.failed = 0
        self.timed_out = 0
        self.dropped = 0
        self._drop_logged = 0.0
        # address -> MAC of the leases that already got their del (release, decline,
        # conflict); bounded by the number of addresses
        self._ended: dict[str, str] = {}

    # --- the hooks: they only enqueue (the worker parses and runs) --------------

    def enqueue(self, item: LeaseEvent | ScriptJob) -> bool:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            now = time.monotonic()
            if self.dropped == 1 or now - self._drop_logged >= 1.0:
                self._drop_logged = now
                log.warning("dnsmasq_script_queue_full", dropped=self.dropped,
                            queue_size=self.queue.maxsize, lost=item.describe())
            return False
        return True

    async def new_packet(self, event: NewPacketEvent) -> NewPacketVerdict:
        # The interface name is told only here: keep it as our packet context.
        return NewPacketVerdict(context=event.interface)

    async def address_offer(self, event: AddressOfferEvent) -> None:
        self.enqueue(LeaseEvent(event, time.time()))

    async def address_del(self, event: AddressDelEvent) -> None:
        if event.reason in DEL_REASONS:
            self.enqueue(LeaseEvent(event, time.time()))

    async def delete_client(self, event: DeleteClientEvent) -> None:
        self.enqueue(LeaseEvent(event, time.time()))

    def job_for(self, item: LeaseEvent) -> ScriptJob | None:
        """The run for one event, in event order (None: nothing to run)."""
        event = item.event
        if isinstance(event, AddressOfferEvent):
            job = offer_job(event, item.time)
            self._ended.pop(job.args[1], None)
            return job
        if isinstance(event, AddressDelEvent):
            job = del_job(event)
            self._ended[job.args[1]] = job.args[0]
            return job
        job = delete_client_job(event)
        mac, address = job.args[0], job.args[1]
        if self._ended.get(address) == mac:
            del self._ended[address]  # its del ran when it was released or declined
            return None
        return job

    async def control(self, event: ControlEvent) -> None:
        if event.code is ControlCode.START:
            self.start()
        elif event.code is ControlCode.STOP:
            await self.stop()

    def table(self) -> HookTable:
        return HookTable(control=self.control, new_packet=self.new_packet,
                         address_offer=self.address_offer, address_del=self.address_del,
                         delete_client=self.delete_client)

    # --- the worker ------------------------------------------------------------------

    def start(self) -> None:
        if self.worker is None or self.worker.done():
            self.worker = asyncio.get_running_loop().create_task(
                self._work(), name="dnsmasq-script")

    async def stop(self) -> None:
        """Drain the queue (at most drain_timeout seconds), then stop the worker."""
        worker, self.worker = self.worker, None
        if worker is None:
            return
        try:
            await asyncio.wait_for(self.queue.join(), self.drain_timeout)
        except TimeoutError:
            log.warning("dnsmasq_script_drain_timeout", left=self.queue.qsize(),
                        seconds=self.drain_timeout)
        finally:  # also when the server abandons this hook at its deadline
            worker.cancel()
            discarded = 0
            while not self.queue.empty():
                self.queue.get_nowait()
                self.queue.task_done()
                discarded += 1
            if discarded:
                log.warning("dnsmasq_script_discarded", count=discarded)
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    async def _work(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                job = self.job_for(item) if isinstance(item, LeaseEvent) else item
                if job is not None:
                    await self.run(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let one event stop the worker
                self.failed += 1
                log.error("dnsmasq_script_failed", event=item.describe(),
                          error=f"{type(exc).__name__}: {exc}")
            finally:
                self.queue.task_done()

    async def run(self, job: ScriptJob) -> int | None:
        """Run the script once; its exit status (None: it could not run, or was killed)."""
        try:
            process = await asyncio.create_subprocess_exec(
                str(self.script), job.action, *job.args,
                env={**os.environ, **job.env},
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            )
        except OSError as exc:
            self.failed += 1
            log.error("dnsmasq_script_not_run", script=str(self.script), action=job.action,
                      error=str(exc))
            return None
        try:
            output, _ = await asyncio.wait_for(process.communicate(), self.timeout)
        except TimeoutError:
            self.timed_out += 1
            self._kill(process)
            await process.wait()
            log.error("dnsmasq_script_timeout", script=str(self.script), action=job.action,
                      args=list(job.args), timeout=self.timeout)
            return None
        except asyncio.CancelledError:
            self._kill(process)  # stopped while it ran: leave no process behind
            raise
        self.ran += 1
        text = output[-_OUTPUT_LIMIT:].decode(errors="replace").strip()
        if process.returncode != 0:
            self.failed += 1
            log.warning("dnsmasq_script_exit", script=str(self.script), action=job.action,
                        args=list(job.args), status=process.returncode, output=text or None)
        elif text:
            log.info("dnsmasq_script_output", action=job.action, output=text)
        return process.returncode

    @staticmethod
    def _kill(process: asyncio.subprocess.Process) -> None:
        # The whole session: a shell's children hold the output pipe open otherwise.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def _number(mine: Mapping[str, Any], key: str, default: float, minimum: float) -> float:
    value = mine.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise CalloutRefused(f"setting {key!r} must be a number >= {minimum}")
    return float(value)


def dhcp_server_callout_entry(
    chain: tuple[str, ...], api_version: int, settings: Mapping[str, Mapping[str, Any]]
) -> HookTable:
    mine = own_settings(settings, __name__, __file__)
    script = mine.get("script")
    if not isinstance(script, str) or not script:
        raise CalloutRefused("setting 'script' (the lease script) is required")
    path = Path(script)
    if not path.is_absolute():
        raise CalloutRefused(f"script {script!r} must be an absolute path (no PATH search)")
    if not path.is_file() or not os.access(path, os.X_OK):
        raise CalloutRefused(f"script {script!r} is not an executable file")
    queue_size = _number(mine, "queue_size", 1000, 1)
    if queue_size != int(queue_size):
        raise CalloutRefused("setting 'queue_size' must be a whole number")
    if chain:
        log.warning("dnsmasq_script_chain_ignored", chain=list(chain),
                    hint="load callouts/a_fanout.py to run several callouts")
    return ScriptRunner(
        path,
        timeout=_number(mine, "timeout", 10.0, 0.001),
        queue_size=int(queue_size),
        drain_timeout=_number(mine, "drain_timeout", 5.0, 0),
    ).table()
