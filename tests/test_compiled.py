"""The compiled build (setup.py, mypyc): what runs compiled, and the guards around it."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.machinery
import os
import sys
import types
from pathlib import Path

import pytest

import dhcpd
from dhcpd.records import fast_init
from tests.service.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def listed_in_setup() -> list[str]:
    """The dotted names of setup.py's COMPILED list, read without running setup()."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COMPILED":
            paths = ast.literal_eval(node.value)
            return [p.removesuffix(".py").replace("/", ".") for p in paths]
    raise AssertionError("setup.py has no COMPILED list")


def test_every_listed_module_runs_compiled() -> None:
    """Under CI the build must not have fallen back to pure Python without a word."""
    if not dhcpd.compiled_modules():
        if os.environ.get("DHCPD_COMPILE") == "0":
            pytest.skip("built with DHCPD_COMPILE=0")
        skip_or_fail("no compiled modules: the build fell back to pure Python "
                     "(no C compiler or Python headers? scripts/test.sh installs them)")
    listed = listed_in_setup()  # a package's entry is its __init__ (dhcpd.wire.__init__)
    interpreted = [
        name for name in listed
        if not (importlib.import_module(name.removesuffix(".__init__")).__file__ or "")
        .endswith(SUFFIX)
    ]
    assert interpreted == []
    assert dhcpd.compiled_modules() == sorted(listed)


def test_a_record_in_a_compiled_module_is_refused() -> None:
    # mypyc compiles `a == b` between two instances of such a class to `a is b`
    module = types.ModuleType("fake_compiled")
    module.__file__ = f"/somewhere/fake_compiled{SUFFIX}"
    sys.modules["fake_compiled"] = module
    try:
        record = dataclasses.dataclass(frozen=True, slots=True)(
            type("Sample", (), {"__annotations__": {"x": "int"}, "__module__": "fake_compiled"})
        )
        with pytest.raises(TypeError, match=r"module that setup\.py does not compile"):
            fast_init(record)
    finally:
        del sys.modules["fake_compiled"]


def checkout(tmp_path: Path) -> tuple[Path, Path, Path]:
    package = tmp_path / "pkg"
    package.mkdir()
    (tmp_path / "setup.py").write_text("")
    source = package / "mod.py"
    source.write_text("X = 1\n")
    extension = package / f"mod{SUFFIX}"
    extension.write_bytes(b"")
    return package, source, extension


def test_a_source_edited_after_its_build_is_refused(tmp_path: Path) -> None:
    package, source, extension = checkout(tmp_path)
    os.utime(extension, (1_000_000, 1_000_000))
    os.utime(source, (2_000_000, 2_000_000))
    with pytest.raises(ImportError, match=r"mod\.py changed after it was compiled"):
        dhcpd.refuse_stale_copies(package)


def test_an_up_to_date_build_and_an_installed_package_pass(tmp_path: Path) -> None:
    package, source, extension = checkout(tmp_path)
    os.utime(source, (1_000_000, 1_000_000))
    os.utime(extension, (2_000_000, 2_000_000))
    dhcpd.refuse_stale_copies(package)
    # installed (no setup.py beside the package): file times say nothing there
    (tmp_path / "setup.py").unlink()
    os.utime(source, (3_000_000, 3_000_000))
    dhcpd.refuse_stale_copies(package)
