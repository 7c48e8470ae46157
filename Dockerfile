# syntax=docker/dockerfile:1
# dhcpd container image. See docs/operations.md ("Docker") for the run line:
#   docker run --network host --cap-drop ALL --cap-add NET_BIND_SERVICE \
#     --cap-add NET_RAW --cap-add NET_ADMIN -v dhcpd-leases:/var/lib/dhcpd \
#     -v $PWD/dhcpd.yaml:/etc/dhcpd/dhcpd.yaml:ro IMAGE

# --- builder: the project and its dependencies as wheels, installed into a venv ---
FROM python:3.11-slim AS builder
# A C compiler for the modules setup.py compiles with mypyc (the final image needs none).
# Unpinned: the base image's Debian release fixes the versions, and the compiler leaves
# nothing in the final image.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY dhcpd ./dhcpd
RUN pip wheel --no-cache-dir --wheel-dir /wheels . \
    && python -m venv --copies /opt/dhcpd \
    && /opt/dhcpd/bin/pip install --no-cache-dir --no-index --find-links /wheels /wheels/dhcpd-*.whl

# --- final: python, the venv, a user; nothing else ---
FROM python:3.11-slim
COPY --from=builder /opt/dhcpd /opt/dhcpd
COPY docker/dhcpd.yaml /etc/dhcpd/dhcpd.yaml
# The daemon runs as the unprivileged user dhcpd (uid/gid 967). Docker gives a non-root user
# no effective capabilities, even with --cap-add, so the venv's interpreter
# carries them as file capabilities (security.capability: permitted+effective
# CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW). The container must be
# started with those three capabilities (--cap-add), or the interpreter
# refuses to run.
RUN groupadd --system --gid 967 dhcpd \
    && useradd --system --uid 967 --gid dhcpd --home-dir /var/lib/dhcpd --shell /usr/sbin/nologin dhcpd \
    && mkdir -p /var/lib/dhcpd /run/dhcpd \
    && chown dhcpd:dhcpd /var/lib/dhcpd /run/dhcpd \
    && chmod 0750 /var/lib/dhcpd /run/dhcpd \
    && python -c "import os, struct; [os.setxattr(f'/opt/dhcpd/bin/{name}', 'security.capability', struct.pack('<5I', 0x02000001, (1 << 10) | (1 << 12) | (1 << 13), 0, 0, 0)) for name in os.listdir('/opt/dhcpd/bin') if name.startswith('python') and not os.path.islink(f'/opt/dhcpd/bin/{name}')]"
ENV PATH=/opt/dhcpd/bin:$PATH \
    PYTHONUNBUFFERED=1
VOLUME /var/lib/dhcpd
EXPOSE 67/udp
USER 967:967
WORKDIR /var/lib/dhcpd
# Asks the daemon itself, over its health socket (server.health_socket).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/opt/dhcpd/bin/python", "-m", "dhcpd.service.health", "--socket", "/run/dhcpd/health.sock"]
ENTRYPOINT ["/opt/dhcpd/bin/dhcpd", "--config", "/etc/dhcpd/dhcpd.yaml"]
