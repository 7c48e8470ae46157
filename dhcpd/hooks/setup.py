"""From the configuration to a ready dispatcher (or the empty one)."""

from __future__ import annotations

from dhcpd.config.models import CalloutSettings

from .api import HOOK_NAMES
from .dispatcher import CalloutDispatcher, HookPolicy, Observer
from .loader import LoadReport, load_callouts


def build_dispatcher(
    settings: CalloutSettings, observer: Observer | None = None
) -> tuple[CalloutDispatcher, LoadReport | None]:
    """Load the configured callouts (CalloutEnabled false or no modules: none at all)."""
    if not settings.enabled or not settings.modules:
        return CalloutDispatcher(None), None
    report = load_callouts(settings.modules, settings.settings)
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
    active = report.active
    dispatcher = CalloutDispatcher(
        active.table if active else None,
        module=active.entry if active else None,
        policies=policies,
        quarantine_after=settings.quarantine_after,
        thread_workers=settings.thread_workers,
        observer=observer,
    )
    return dispatcher, report
