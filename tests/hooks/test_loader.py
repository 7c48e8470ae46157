"""Loading: alphabetical order, first success wins, the rest is its chain."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from dhcpd.config.models import CalloutSettings
from dhcpd.hooks import CALLOUT_API_VERSION
from dhcpd.hooks.loader import load_callouts
from dhcpd.hooks.setup import build_dispatcher

ACCEPTING = '''
from dhcpd.hooks import HookTable
SEEN = {}
def dhcp_server_callout_entry(chain, api_version, settings):
    SEEN.update(chain=chain, api_version=api_version, settings=settings)
    async def control(event):
        pass
    return HookTable(control=control)
'''


def module(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(dedent(body))
    return str(path)


def test_first_module_in_alphabetical_order_that_accepts_is_loaded(tmp_path: Path) -> None:
    broken = module(tmp_path, "a_broken", "raise ImportError('no such thing')")
    no_entry = module(tmp_path, "b_no_entry", "x = 1")
    refuses = module(tmp_path, "c_refuses", '''
        def dhcp_server_callout_entry(chain, api_version, settings):
            return None
    ''')
    raises = module(tmp_path, "d_raises", '''
        from dhcpd.hooks import CalloutRefused
        def dhcp_server_callout_entry(chain, api_version, settings):
            raise CalloutRefused("wrong api version")
    ''')
    good = module(tmp_path, "e_good", ACCEPTING)
    later = module(tmp_path, "f_later", ACCEPTING)
    settings = {good: {"answer": 42}}
    # Configured order is irrelevant: the list is sorted.
    report = load_callouts([later, good, raises, refuses, no_entry, broken], settings)
    assert report.active is not None and report.active.entry == good
    assert report.active.chain == (later,)
    assert report.active.table.filled() == ("control",)
    reasons = dict(report.failures)
    assert list(reasons) == [broken, no_entry, refuses, raises]
    assert "ImportError" in reasons[broken]
    assert "no dhcp_server_callout_entry" in reasons[no_entry]
    assert "refused" in reasons[refuses] and "wrong api version" in reasons[raises]


def test_entry_function_gets_chain_version_and_settings(tmp_path: Path) -> None:
    good = module(tmp_path, "good", ACCEPTING)
    other = module(tmp_path, "zz_other", ACCEPTING)
    report = load_callouts([other, good], {good: {"limit": 3}})
    assert report.active is not None
    import sys

    loaded = next(m for name, m in sys.modules.items()
                  if name.startswith("dhcpd_callout_good_"))
    assert loaded.SEEN["chain"] == (other,)
    assert loaded.SEEN["api_version"] == CALLOUT_API_VERSION
    assert loaded.SEEN["settings"][good] == {"limit": 3}


def test_dotted_module_names_load_too() -> None:
    report = load_callouts(["tests.hooks.sample_callout"], {})
    assert report.active is not None and report.active.table.filled() == ("control",)


def test_nothing_loads_when_every_module_fails(tmp_path: Path) -> None:
    report = load_callouts([module(tmp_path, "bad", "1/0"), "no.such.module"], {})
    assert report.active is None and len(report.failures) == 2


def test_disabled_callouts_load_nothing_and_call_nothing(tmp_path: Path) -> None:
    good = module(tmp_path, "good2", ACCEPTING)
    dispatcher, report = build_dispatcher(CalloutSettings(enabled=False, modules=[good]))
    assert report is None and not dispatcher.active
    dispatcher, report = build_dispatcher(CalloutSettings(enabled=True, modules=[good]))
    assert report is not None and dispatcher.active and dispatcher.has("control")


def test_check_config_reports_the_active_callout_and_its_hooks(tmp_path: Path) -> None:
    import subprocess
    import sys

    good = module(tmp_path, "good3", ACCEPTING)
    bad = module(tmp_path, "aaa_bad", "raise RuntimeError('half-written')")
    config = tmp_path / "dhcpd.yaml"
    config.write_text(f"callouts: {{enabled: true, modules: [{good}, {bad}]}}\n")
    result = subprocess.run([sys.executable, "-m", "dhcpd", "check-config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"callouts: {bad}: not loaded" in result.stdout
    assert f"callouts: active module {good}" in result.stdout
    assert "hooks: control" in result.stdout

    config.write_text(f"callouts: {{enabled: true, modules: [{bad}]}}\n")
    result = subprocess.run([sys.executable, "-m", "dhcpd", "check-config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "no module loaded" in result.stderr
