"""From the configuration to a ready dispatcher (or the empty one)."""

from __future__ import annotations

from dhcpd.config.models import CalloutSettings

from .api import HOOK_NAMES
from .dispatcher import CalloutDispatcher, Dispatcher, HookPolicy
from .isolation import IsolatedDispatcher
from .loader import LoadReport, load_callouts


def build_dispatcher(settings: CalloutSettings) -> tuple[Dispatcher, LoadReport | None]:
    """Load the configured callouts (CalloutEnabled false or no modules: none at all).

    With isolation "process" the dispatcher loads them in its worker when it is
    started (`await dispatcher.start()`), and no load report is returned.
    """
    if not settings.enabled or not settings.modules:
        return CalloutDispatcher(None), None
    builtin = HookPolicy()
    default = HookPolicy(
        deadline=settings.deadlines.get("default", builtin.deadline),
        on_timeout=settings.on_timeout.get("default", builtin.on_timeout),
    )
    policies = {
        slot: HookPolicy(
            deadline=settings.deadlines.get(slot, default.deadline),
            on_timeout=settings.on_timeout.get(slot, default.on_timeout),
        )
        for slot in HOOK_NAMES
    }
    if settings.isolation == "process":
        # Nothing of the callout is imported here: the worker loads it (at start()).
        return IsolatedDispatcher(
            settings.modules, settings.settings, policies=policies,
            quarantine_after=settings.quarantine_after,
            thread_workers=settings.thread_workers,
            memory_mb=settings.worker_memory_mb,
            restart_delay=settings.worker_restart_delay,
        ), None
    report = load_callouts(settings.modules, settings.settings)
    active = report.active
    dispatcher = CalloutDispatcher(
        active.table if active else None,
        module=active.entry if active else None,
        policies=policies,
        quarantine_after=settings.quarantine_after,
        thread_workers=settings.thread_workers,
    )
    return dispatcher, report
