"""The health socket, in process: a real Unix socket, a real client."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

from dhcpd.service import health
from dhcpd.service.health import HealthServer


async def test_answers_one_json_line_and_replaces_a_stale_socket(tmp_path: Path) -> None:
    path = tmp_path / "run" / "health.sock"
    path.parent.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(str(path))  # left behind by a killed daemon
    server = HealthServer(path, lambda: 7)
    await server.start()
    task = asyncio.create_task(server.serve())
    try:
        assert path.stat().st_mode & 0o777 == 0o660
        answer = await asyncio.to_thread(health.query, path, 2.0)
        assert answer["status"] == "ok" and answer["leases"] == 7
        assert isinstance(answer["uptime"], float)
        config = tmp_path / "dhcpd.yaml"
        config.write_text(json.dumps({"server": {"health_socket": str(path)}}))
        assert await asyncio.to_thread(health.main, ["--config", str(config)]) == 0
    finally:
        task.cancel()
        server.close()
    assert not path.exists()
    assert health.main(["--socket", str(path), "--timeout", "1"]) == 1


def test_a_config_without_health_socket_is_unhealthy(tmp_path: Path) -> None:
    config = tmp_path / "dhcpd.yaml"
    config.write_text("server: {port: 6767}\n")
    assert health.main(["--config", str(config)]) == 1
