"""callouts._settings.own_settings: a module finds its settings however it was configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from callouts._settings import own_settings

FILE = "/srv/callouts/mac_filter.py"


def test_by_dotted_module_name() -> None:
    settings: dict[str, dict[str, Any]] = {
        "callouts.mac_filter": {"list_file": "a"}, "other": {"x": 1}}
    assert own_settings(settings, "callouts.mac_filter", FILE) == {"list_file": "a"}


def test_by_absolute_path() -> None:
    settings = {FILE: {"list_file": "b"}}
    assert own_settings(settings, "dhcpd_callout_mac_filter_0123", FILE) == {"list_file": "b"}


def test_by_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "callouts" / "mac_filter.py"
    module.parent.mkdir()
    module.write_text("")
    monkeypatch.chdir(tmp_path)
    settings = {"callouts/mac_filter.py": {"list_file": "c"}}
    assert own_settings(settings, "x", str(module)) == {"list_file": "c"}


def test_by_file_name_when_the_paths_resolve_differently() -> None:
    settings = {"elsewhere/mac_filter.py": {"list_file": "d"}, "audit_log.py": {"path": "e"}}
    assert own_settings(settings, "x", FILE) == {"list_file": "d"}


def test_an_exact_path_wins_over_a_file_name(tmp_path: Path) -> None:
    mine = tmp_path / "b" / "mac_filter.py"
    settings = {str(tmp_path / "a" / "mac_filter.py"): {"n": 1}, str(mine): {"n": 2}}
    assert own_settings(settings, "x", str(mine)) == {"n": 2}


def test_none_configured_is_empty_and_a_copy() -> None:
    assert own_settings({"callouts/audit_log.py": {"path": "p"}}, "x", FILE) == {}
    assert own_settings({}, "x", None) == {}
    settings = {"callouts.mac_filter": {"list_file": "a"}}
    own_settings(settings, "callouts.mac_filter", FILE)["list_file"] = "changed"
    assert settings["callouts.mac_filter"]["list_file"] == "a"
