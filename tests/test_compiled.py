"""The compiled build (setup.py, mypyc): what runs compiled, and the guards around it."""

from __future__ import annotations

import ast
import copy
import dataclasses
import importlib
import importlib.machinery
import os
import pickle
from ipaddress import IPv4Address
from pathlib import Path

import pytest

import dhcpd
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


def native_record_classes() -> list[tuple[Path, ast.ClassDef]]:
    """Every class of the package finished with `native_record(Class)`."""
    found = []
    for path in sorted((ROOT / "dhcpd").rglob("*.py")):
        tree = ast.parse(path.read_text())
        classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
        for node in tree.body:
            if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                    and getattr(node.value.func, "id", None) == "native_record"):
                found.append((path, classes[node.value.args[0].id]))  # type: ignore[attr-defined]
    return found


def test_each_native_record_takes_its_fields_in_order() -> None:
    # Pickling and copying rebuild a record as cls(*fields); compiled, nothing else
    # could check that the written __init__ takes exactly these.
    records = native_record_classes()
    assert len(records) >= 6
    for path, cls in records:
        fields = [node.target.id for node in cls.body  # type: ignore[union-attr]
                  if isinstance(node, ast.AnnAssign) and not (
                      isinstance(node.value, ast.Call)
                      and any(k.arg == "init" for k in node.value.keywords))]
        init = next(node for node in cls.body
                    if isinstance(node, ast.FunctionDef) and node.name == "__init__")
        params = [arg.arg for arg in init.args.args[1:]]
        assert params == fields, f"{path.name}: {cls.name}"


def test_compiled_records_are_native_and_stay_frozen_and_picklable() -> None:
    """The records the packet path builds are mypyc's own classes in the compiled build."""
    from dhcpd.hooks.events import PacketDropEvent
    from dhcpd.leases.model import Lease, LeaseState
    from dhcpd.wire import HardwareAddress

    if not dhcpd.compiled_modules():
        skip_or_fail("no compiled modules: the build fell back to pure Python")
    for cls in (PacketDropEvent, Lease, HardwareAddress):
        assert "__mypyc_attrs__" in cls.__dict__, cls.__name__
    lease = Lease(IPv4Address("192.0.2.10"), b"h\x01ab", HardwareAddress(1, b"ab"), None, 1,
                  LeaseState.ACTIVE, 100.0, 200.0)
    twin = Lease(IPv4Address("192.0.2.10"), b"h\x01ab", HardwareAddress(1, b"ab"), None, 1,
                 LeaseState.ACTIVE, 100.0, 200.0)
    assert lease == twin and lease is not twin and hash(lease) == hash(twin)
    assert lease != dataclasses.replace(twin, expires=300.0)
    assert pickle.loads(pickle.dumps(lease)) == lease == copy.deepcopy(lease)
    with pytest.raises(dataclasses.FrozenInstanceError):
        lease.expires = 0.0  # type: ignore[misc]


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
