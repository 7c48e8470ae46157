"""A reload frees what it replaced, although the running daemon froze the
garbage collector's view of everything that existed at start (app.tune_gc)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from dhcpd.app import DhcpServer, tune_gc
from dhcpd.config import load_config
from tests.factories import BASE_CONFIG

WITH_CALLOUT = BASE_CONFIG + """
callouts:
  enabled: true
  modules: [tests.hooks.sample_callout]
"""


async def test_reload_frees_the_replaced_callouts_after_gc_freeze(tmp_path: Path) -> None:
    path = tmp_path / "dhcpd.yaml"
    path.write_text(WITH_CALLOUT)
    server = DhcpServer(load_config(path), config_path=path)
    server.load_callouts()
    # The dispatcher and its bound callers form reference cycles: only the
    # cyclic collector frees them, and it never scans frozen objects.
    replaced = weakref.ref(server.callouts)
    thresholds = gc.get_threshold()
    tune_gc()  # as run() does once the daemon is ready
    try:
        assert server.reload() == []
        assert server._callout_reload is not None
        await server._callout_reload
        assert server.callouts is not replaced()
        assert replaced() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        server.callouts.close()
