"""Every example callout imports only the public API and is documented."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.callouts.conftest import CALLOUTS

ALLOWED_DHCPD = {"dhcpd.hooks", "dhcpd.wire"}
MODULES = sorted(CALLOUTS.glob("*.py"))


def imported_modules(tree: ast.AST) -> list[tuple[int, str, int]]:
    """(line, module, relative level) of every import statement."""
    found: list[tuple[int, str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or "", node.level))
    return found


def test_there_are_modules_to_check() -> None:
    names = {path.stem for path in MODULES}
    assert {"a_fanout", "audit_log", "dnsmasq_script", "mac_filter", "_settings"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_callouts_import_only_dhcpd_hooks_and_wire(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for line, module, level in imported_modules(tree):
        where = f"{path.name}:{line}: {module or '.'}"
        assert level == 0, f"{where}: relative import (breaks loading by path)"
        top = module.split(".")[0]
        if top == "dhcpd":
            assert module in ALLOWED_DHCPD, f"{where}: server internals are off limits"
        # Anything else: the standard library, structlog, or our own package.
        assert top != "tests", where


@pytest.mark.parametrize("path", [p for p in MODULES if not p.name.startswith("_")],
                         ids=lambda p: p.name)
def test_each_callout_is_documented_with_settings_and_yaml(path: Path) -> None:
    tree = ast.parse(path.read_text())
    doc = ast.get_docstring(tree)
    assert doc, f"{path.name} has no module docstring"
    for needed in ("Settings", "Configuration", "callouts:", "enabled: true", "modules:"):
        assert needed in doc, f"{path.name}: docstring lacks {needed!r}"
    entries = [node for node in tree.body if isinstance(node, ast.FunctionDef)
               and node.name == "dhcp_server_callout_entry"]
    assert entries, f"{path.name} has no dhcp_server_callout_entry"


def test_the_fanout_sorts_first_among_the_examples() -> None:
    # The loader sorts the entries as strings: the chainer must come first.
    public = [p for p in MODULES if not p.name.startswith("_") and p.name != "__init__.py"]
    as_paths = sorted(f"callouts/{p.name}" for p in public)
    as_names = sorted(f"callouts.{p.stem}" for p in public)
    assert as_paths[0] == "callouts/a_fanout.py"
    assert as_names[0] == "callouts.a_fanout"
    # What the docstring warns about: a plain "fanout" would not be first.
    assert sorted(["callouts/fanout.py", "callouts/audit_log.py"])[0] == "callouts/audit_log.py"
