"""dhcpd: an asyncio DHCPv4 server with a Microsoft-style callout API.

setup.py compiles the per-packet modules with mypyc; an extension module
imports in place of the .py of the same name. In a source checkout (an
editable install), a compiled copy older than its source would run code that
is no longer there, so importing the package refuses it.
"""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def _compiled_copies(package: Path = _PACKAGE) -> dict[Path, Path]:
    """Each compiled extension in the package, with the .py it was built from."""
    copies: dict[Path, Path] = {}
    for extension in package.rglob("*.so"):
        # the longest suffix that fits: ".cpython-311-x86_64-linux-gnu.so" before ".so"
        suffix = max((s for s in _SUFFIXES if extension.name.endswith(s)), key=len, default="")
        if suffix:
            copies[extension] = extension.with_name(extension.name[: -len(suffix)] + ".py")
    return copies


def compiled_modules() -> list[str]:
    """The dotted names of the modules that run compiled (empty: pure Python)."""
    return sorted(
        ".".join(source.relative_to(_PACKAGE.parent).with_suffix("").parts)
        for source in _compiled_copies().values()
    )


def refuse_stale_copies(package: Path = _PACKAGE) -> None:
    """Raise ImportError if a source in a checkout changed after it was compiled."""
    if not (package.parent / "setup.py").is_file():
        return  # an installed package: its sources are not edited in place
    for extension, source in _compiled_copies(package).items():
        if source.is_file() and source.stat().st_mtime > extension.stat().st_mtime:
            raise ImportError(
                f"{source} changed after it was compiled to {extension.name}: rebuild with "
                "`pip install -e .` (or delete the compiled copies, "
                "`find dhcpd -name '*.so' -delete`, to run it interpreted)"
            )


refuse_stale_copies()
