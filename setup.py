"""Build hook: compile the per-packet modules to C with mypyc.

The package's metadata lives in pyproject.toml; this file only adds the
extension modules. Every module listed in COMPILED stays a plain Python
source file and runs interpreted too: the compiled copy is what imports when
it exists (an extension module wins over a .py of the same name).

DHCPD_COMPILE=0 in the environment builds a pure-Python install. Without a C
compiler or the Python headers the build falls back to pure Python (each
extension is optional); `dhcpd --version` says which one is running.
"""

from __future__ import annotations

import os

from setuptools import setup
from setuptools.extension import Extension

# The logic and the records of the per-packet path (measured in bench/README.md, sessions 5
# to 7; records: dhcpd/records.py), and config/runtime.py, whose subnets and pools every
# packet asks for membership (built once per load, by the dataclass decorator's __init__).
# Not here: the rest of the callouts' side (IsolatedDispatcher subclasses the dispatcher's
# books; the packet path's part of it is in hooks/calling.py, hooks/events.py and
# hooks/session.py), exceptions (mypyc cannot compile a subclass of OSError:
# transport/errors.py), and what runs once per start or reload.
COMPILED = [
    "dhcpd/wire/__init__.py",
    "dhcpd/wire/addresses.py",
    "dhcpd/wire/constants.py",
    "dhcpd/wire/errors.py",
    "dhcpd/wire/hwaddr.py",
    "dhcpd/wire/message.py",
    "dhcpd/wire/options.py",
    "dhcpd/wire/relay.py",
    "dhcpd/protocol/__init__.py",
    "dhcpd/protocol/bootp.py",
    "dhcpd/protocol/decline.py",
    "dhcpd/protocol/destination.py",
    "dhcpd/protocol/discover.py",
    "dhcpd/protocol/exchange.py",
    "dhcpd/protocol/inform.py",
    "dhcpd/protocol/reading.py",
    "dhcpd/protocol/release.py",
    "dhcpd/protocol/reply.py",
    "dhcpd/protocol/request.py",
    "dhcpd/protocol/selection.py",
    "dhcpd/protocol/server.py",
    "dhcpd/protocol/types.py",
    "dhcpd/config/runtime.py",
    "dhcpd/hooks/calling.py",
    "dhcpd/hooks/events.py",
    "dhcpd/hooks/server_options.py",
    "dhcpd/hooks/session.py",
    "dhcpd/intake.py",
    "dhcpd/leases/allocator.py",
    "dhcpd/leases/locks.py",
    "dhcpd/leases/manager.py",
    "dhcpd/leases/model.py",
    "dhcpd/leases/stores/sqlite.py",
    "dhcpd/leases/stores/walsync.py",
    "dhcpd/transport/outgoing.py",
    "dhcpd/transport/udp.py",
    "dhcpd/pipeline.py",
    "dhcpd/scheduler.py",
    "dhcpd/stats.py",
    "dhcpd/workqueue.py",
]


def extensions() -> list[Extension]:
    if os.environ.get("DHCPD_COMPILE", "1") == "0":
        return []
    from mypyc.build import mypycify

    # multi_file: one C file per module, so that build_ext can compile them in parallel
    built = mypycify(COMPILED, opt_level="3", debug_level="1", group_name="dhcpd_native",
                     multi_file=True)
    for extension in built:
        extension.optional = True  # no compiler or headers: install the pure-Python package
    return built


setup(ext_modules=extensions(), options={"build_ext": {"parallel": os.cpu_count() or 1}})
