"""How a callout module finds its own settings in ``callouts.settings``.

The YAML keys per-module settings by the module entry exactly as configured:
a path (``callouts/mac_filter.py``, ``/etc/dhcpd/mac_filter.py``) or a dotted
name (``callouts.mac_filter``). The entry function receives the whole mapping,
but a module does not know how it was configured, so it looks itself up under
any of these, in this order:

1. its dotted module name (``__name__``: matches a dotted entry);
2. its file path (``__file__``), compared after resolving both (matches a
   path entry, relative or absolute, as long as the working directory is the
   one the loader used);
3. a path key whose file name is its own file name (``.../mac_filter.py``):
   the fallback when the paths resolve differently.

Usage, in every entry function::

    mine = own_settings(settings, __name__, __file__)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["own_settings"]


def own_settings(
    settings: Mapping[str, Mapping[str, Any]], module_name: str, module_file: str | None
) -> dict[str, Any]:
    """This module's settings (a copy; empty when none are configured)."""
    if module_name in settings:
        return dict(settings[module_name])
    if not module_file:
        return {}
    path = Path(module_file).resolve()
    path_keys = [key for key in settings if key.endswith(".py") or "/" in key]
    for key in path_keys:
        try:
            if Path(key).resolve() == path:
                return dict(settings[key])
        except (OSError, RuntimeError):  # unresolvable (a symlink loop): try the next
            continue
    for key in path_keys:
        if Path(key).name == path.name:
            return dict(settings[key])
    return {}
