#!/usr/bin/env bash
# Run the whole test suite on a fresh Debian machine.
# As root it first installs the Debian packages the integration tests drive
# (real DHCP clients, perfdhcp, iproute2); then it makes .venv, installs the
# project with its test extras, and runs ruff, mypy and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# gcc and python3-dev: pip compiles the per-packet modules with mypyc (setup.py)
DEBIAN_PACKAGES=(python3-venv gcc python3-dev iproute2 isc-dhcp-client udhcpc busybox kea-admin
                 tshark procps systemd)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[test]'  # rebuilds the compiled modules from the sources

.venv/bin/ruff check dhcpd tests bench
.venv/bin/mypy
exec .venv/bin/pytest -q "$@"
