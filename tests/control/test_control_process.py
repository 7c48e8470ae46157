"""The control API of the real daemon: `dhcpd ctl` as a subprocess and the client module.

One daemon serves the module (see conftest.py); each test uses its own clients
(relay client numbers) and addresses so that they do not disturb each other.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from dhcpd.control.client import ControlClient, ControlUnreachable
from dhcpd.control.server import MAX_LINE
from dhcpd.wire import MessageType
from tests.control.helpers import TOKEN, Served, serve
from tests.factories import request
from tests.process.test_daemon_loopback import dora, free_port


def stored(database: Path) -> set[IPv4Address]:
    with sqlite3.connect(database) as db:
        return {IPv4Address(row[0]) for row in db.execute("SELECT address FROM leases")}


def test_status_with_ctl_and_the_client(served: Served) -> None:
    result = served.ctl("status")
    assert result.returncode == 0, result.stderr
    assert "serving" in result.stdout and "127.0.0.0/8" in result.stdout
    raw = json.loads(served.ctl("--json", "status").stdout)
    assert raw["result"] == "ok"
    assert raw["arguments"]["pid"] == served.daemon.process.pid  # type: ignore[union-attr]
    assert raw["arguments"]["paused"] is False
    response = served.client().call("status")
    assert response.arguments["subnets"][0]["pools"] == ["127.0.1.10-127.0.1.250"]
    assert set(response.arguments["leases"]) == {"active", "released", "expired", "declined"}


def test_a_dora_shows_in_leases_list_and_lease_get(served: Served) -> None:
    address = dora(served.relay, 11)
    listing = served.client().call("leases-list", {"state": "active"})
    assert listing.result == "ok"
    assert str(address) in [lease["address"] for lease in listing.arguments["leases"]]
    got = served.ctl("lease", "get", str(address))
    assert got.returncode == 0, got.stderr
    assert "02:00:00:00:00:0b" in got.stdout and "active" in got.stdout
    by_hw = served.client().call("lease-get", {"hw_address": "02:00:00:00:00:0b"})
    assert by_hw.arguments["lease"]["address"] == str(address)
    text = served.ctl("leases", "list")
    assert text.returncode == 0 and str(address) in text.stdout


def test_lease_add_then_the_client_gets_that_address(served: Served) -> None:
    added = served.ctl("lease", "add", "127.0.1.200", "02:00:00:00:00:4d", "--lease-time", "3600")
    assert added.returncode == 0, added.stderr
    assert IPv4Address("127.0.1.200") in stored(served.database)
    # The client (number 77 = 0x4d) is steered to its recorded address.
    assert dora(served.relay, 77) == IPv4Address("127.0.1.200")


def test_lease_add_refuses_an_address_in_use_or_outside_the_subnets(served: Served) -> None:
    address = dora(served.relay, 12)
    taken = served.ctl("lease", "add", str(address), "02:00:00:00:00:99")
    assert taken.returncode == 1 and "in use" in taken.stderr
    outside = served.client().call(
        "lease-add", {"address": "192.0.2.5", "hw_address": "02:00:00:00:00:99"})
    assert outside.result == "error" and "no configured subnet" in outside.text
    bad_hw = served.client().call(
        "lease-add", {"address": "127.0.1.201", "hw_address": "zz:zz"})
    assert bad_hw.result == "error" and "hw_address" in bad_hw.text


def test_lease_delete_removes_it_from_the_daemon_and_the_file(served: Served) -> None:
    address = dora(served.relay, 13)
    assert address in stored(served.database)
    deleted = served.ctl("lease", "delete", str(address))
    assert deleted.returncode == 0, deleted.stderr
    assert address not in stored(served.database)
    assert served.client().call("lease-get", {"address": str(address)}).result == "error"
    again = served.ctl("lease", "delete", str(address))
    assert again.returncode == 1 and "no lease" in again.stderr


def test_pause_counts_and_drops_then_continue_answers(served: Served) -> None:
    client = served.client()
    before = client.call("statistics").arguments
    assert served.ctl("pause").returncode == 0
    try:
        assert client.call("status").arguments["paused"] is True
        discover = request(MessageType.DISCOVER, 14, xid=1400, giaddr=served.relay.address)
        assert served.relay.exchange(discover) is None
        after = client.call("statistics").arguments
        assert after["dropped"].get("PAUSED", 0) == before["dropped"].get("PAUSED", 0) + 1
        assert after["received"]["DISCOVER"] == before["received"].get("DISCOVER", 0) + 1
        served.daemon.wait_for_event("server_paused", 2)
    finally:
        resumed = served.ctl("continue")
    assert resumed.returncode == 0 and "serving" in resumed.stdout
    assert dora(served.relay, 14) is not None


def test_sigusr1_pauses_and_sigusr2_continues(served: Served) -> None:
    client = served.client()
    seen = {name: sum(1 for e in served.daemon.events() if e.get("event") == name)
            for name in ("server_paused", "server_continued")}
    served.daemon.signal(signal.SIGUSR1)
    try:
        served.daemon.wait_for_event("server_paused", 5, count=seen["server_paused"] + 1)
        assert client.call("status").arguments["paused"] is True
    finally:
        served.daemon.signal(signal.SIGUSR2)
    served.daemon.wait_for_event("server_continued", 5, count=seen["server_continued"] + 1)
    assert client.call("status").arguments["paused"] is False


def test_reload_returns_the_errors_of_a_bad_config(served: Served) -> None:
    good = served.config.read_text()
    try:
        served.config.write_text(good.replace("127.0.1.10-127.0.1.250", "nonsense"))
        result = served.ctl("reload")
        assert result.returncode == 1
        assert "subnets[0].pools[0].range" in result.stderr
        raw = served.client().call("reload")
        assert raw.result == "error"
        assert any("subnets[0].pools[0].range" in e for e in raw.arguments["errors"])
    finally:
        served.config.write_text(good)
    assert served.ctl("reload").returncode == 0
    assert dora(served.relay, 15) is not None


def test_bad_requests_get_errors_and_the_daemon_keeps_serving(served: Served) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(served.socket))
        reader = sock.makefile("rb")
        answers = []
        for line in (b"{not json\n", b'{"command": "frobnicate"}\n', b"[1, 2]\n",
                     b'{"command": "lease-get", "arguments": {"address": "x"}}\n',
                     b'{"command": "status", "arguments": {}, "extra": 1}\n'):
            sock.sendall(line)
            answers.append(json.loads(reader.readline()))
        assert [a["result"] for a in answers] == ["error"] * 5
        assert answers[0]["text"].startswith("bad JSON")
        assert "unknown command 'frobnicate'" in answers[1]["text"]
        assert "address" in answers[3]["text"]
        # the same connection still works after the errors
        sock.sendall(b'{"command": "status"}\n')
        assert json.loads(reader.readline())["result"] == "ok"
    client = served.client()
    too_long = client.send_line(b'{"command": "status", "x": "' + b"a" * (MAX_LINE + 10) + b'"}\n')
    assert too_long.result == "error" and "too long" in too_long.text
    unknown = served.ctl("call", "no-such-command")
    assert unknown.returncode == 1 and "unknown command" in unknown.stderr
    assert client.call("status").result == "ok"
    assert dora(served.relay, 16) is not None


def test_a_silent_client_does_not_block_others(served: Served) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
        idle.connect(str(served.socket))
        idle.sendall(b'{"command": "sta')  # and nothing more
        assert served.client().call("status").result == "ok"


def test_the_socket_file_is_mode_0660(served: Served) -> None:
    mode = os.stat(served.socket).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o660


def test_the_tcp_listener_wants_the_token(served: Served) -> None:
    where = ("127.0.0.1", served.tcp_port)
    without = ControlClient(tcp=where, timeout=5).call("status")
    assert without.result == "error" and "unauthorised" in without.text
    wrong = ControlClient(tcp=where, token="x" * len(TOKEN), timeout=5).call("status")
    assert wrong.result == "error" and "unauthorised" in wrong.text
    right = ControlClient(tcp=where, token=TOKEN, timeout=5).call("status")
    assert right.result == "ok"
    env = dict(os.environ, DHCPD_CONTROL_TOKEN=TOKEN)
    result = subprocess.run(
        [sys.executable, "-m", "dhcpd", "ctl", "--tcp", f"127.0.0.1:{served.tcp_port}", "stats"],
        capture_output=True, text=True, timeout=30, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "127.0.1.10-127.0.1.250" in result.stdout


def test_ctl_with_the_config_finds_the_socket(served: Served) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dhcpd", "ctl", "--config", str(served.config), "status"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_ctl_exits_2_when_no_daemon_answers(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dhcpd", "ctl", "--socket", str(tmp_path / "none.sock"), "status"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert "cannot be reached" in result.stderr
    with pytest.raises(ControlUnreachable):
        ControlClient(tmp_path / "none.sock").call("status")


def test_a_live_socket_stops_a_second_daemon(served: Served, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(f"""
server: {{listen_address: 127.0.0.1, port: {free_port()}}}
lease_store: {{type: memory}}
control: {{socket: {served.socket}}}
""")
    result = subprocess.run([sys.executable, "-m", "dhcpd", "--config", str(other)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "in use by a running daemon" in result.stderr
    assert served.client().call("status").result == "ok"  # the first one still serves


def test_a_stale_socket_is_replaced_and_removed_at_exit(tmp_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "ctl.sock"))
    stale.close()  # the file stays, nobody listens: a crashed daemon's leftover
    instance = serve(tmp_path)
    try:
        assert instance.client().call("status").result == "ok"
        instance.daemon.wait_for_event("control_socket_stale_removed", 2)
    finally:
        instance.relay.close()
        assert instance.daemon.stop() == 0
    assert not instance.socket.exists()
