"""Strategies register through the entry-point group, built-in or outside alike."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from framework.errors import InputError
from framework.plugins import get_plugin_manager, get_strategy, strategies


def test_stock_is_registered_as_built_in() -> None:
    found = strategies()
    assert "stock" in found
    assert found["stock"].origin == "built-in"
    assert found["stock"].strategy.version


def test_unknown_strategy_is_bad_input() -> None:
    with pytest.raises(InputError, match="unknown strategy 'nope'"):
        get_strategy("nope")


def _fake_distribution(tmp_path: Path, module_body: str, strategy_name: str) -> None:
    """Install, on sys.path, a distribution that declares a strategy the way an outside package does."""
    pkg = tmp_path / "outside_strategy_pkg.py"
    pkg.write_text(textwrap.dedent(module_body))
    dist = tmp_path / "outside_strategy-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: outside-strategy\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[bakeoff.strategies]\n{strategy_name} = outside_strategy_pkg\n")


OUTSIDE = """
    from framework import Strategy, hookimpl

    class Outside(Strategy):
        name = "outside"
        version = "7"
        summary = "a strategy from another distribution"

    @hookimpl
    def register_strategies():
        return [Outside()]
"""


def test_outside_package_registers_through_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_distribution(tmp_path, OUTSIDE, "outside")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    found = strategies(get_plugin_manager())
    assert found["outside"].origin == "outside-strategy"
    assert found["outside"].strategy.version == "7"
    assert found["stock"].origin == "built-in"
    sys.modules.pop("outside_strategy_pkg", None)


def test_autoload_switch_keeps_outside_plugins_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_distribution(tmp_path, OUTSIDE, "outside")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "outside" not in strategies(get_plugin_manager())


def test_block_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEOFF_BLOCK_PLUGINS", "stock")
    assert "stock" not in strategies(get_plugin_manager())


def test_a_name_registered_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_distribution(tmp_path, OUTSIDE.replace('name = "outside"', 'name = "stock"'), "impostor")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    with pytest.raises(InputError, match="registered twice"):
        strategies(get_plugin_manager())
    sys.modules.pop("outside_strategy_pkg", None)


RAISING = """
    from framework import Strategy, hookimpl

    class Raising(Strategy):
        name = "raising"
        version = "1"
        summary = "a strategy whose rewrite has a bug"

        def rewrite(self, program, analysis, state):
            raise ZeroDivisionError("a bug in the plugin")

    @hookimpl
    def register_strategies():
        return [Raising()]
"""


def test_a_plugin_that_raises_costs_its_own_rows_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from framework.cli import main

    _fake_distribution(tmp_path, RAISING, "raising")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    obj = str(Path(__file__).resolve().parents[2] / "programs" / "obj" / "basic_throw.o")
    try:
        status = main(["run", obj, "--strategy", "stock", "--strategy", "raising", "--json"])
    finally:
        sys.modules.pop("outside_strategy_pkg", None)
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert status == 1  # its rows are problems of the bake-off
    raised = [r for r in rows if r["strategy"] == "raising"]
    assert raised and all(r["verdict"] == "error" for r in raised)
    assert all("ZeroDivisionError at outside_strategy_pkg.py:" in r["reason"] for r in raised)
    assert all("a bug in the plugin" in r["reason"] for r in raised)
    stock = [r for r in rows if r["strategy"] == "stock"]
    assert stock and all(r["verdict"] == "accepted" and r["agrees"] for r in stock)


BASIC = Path(__file__).resolve().parents[2] / "programs" / "obj" / "basic_throw.o"


def test_the_manager_is_built_once_and_strategies_are_fresh_each_time() -> None:
    assert get_plugin_manager() is get_plugin_manager()
    one, two = get_strategy("resource-table"), get_strategy("resource-table")
    assert one is not two and type(one) is type(two)  # a strategy keeps one verification's tables


def test_bakeoff_trace_writes_every_hook_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from framework.cli import main

    monkeypatch.setenv("BAKEOFF_TRACE", "1")
    assert main(["verify", str(BASIC), "--strategy", "resource-table", "--log-level", "0"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith("bakeoff trace: register_strategies") for line in err)
    prepared = [line for line in err if line.startswith("bakeoff trace: resource-table.prepare(Program(")]
    assert len(prepared) == 3 and all(line.endswith(")") for line in prepared)  # basic_throw.o holds three
    assert any(line.startswith("bakeoff trace: resource-table.reserved_stack(Ledger(") for line in err)
    monkeypatch.delenv("BAKEOFF_TRACE")
    assert main(["verify", str(BASIC), "--strategy", "resource-table", "--log-level", "0"]) == 0
    assert "bakeoff trace" not in capsys.readouterr().err


def test_disable_strategy_leaves_it_out(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from framework.cli import main

    assert main(["run", str(BASIC), "--disable-strategy", "stock", "--disable-strategy", "landing-pads", "--json"]) == 0
    ran = {r["strategy"] for r in json.loads(capsys.readouterr().out)["rows"]}
    assert ran == set(strategies()) - {"stock", "landing-pads"} and ran
    assert main(["run", str(BASIC), "--disable-strategy", "nope"]) == 2
    assert "--disable-strategy: unknown strategy 'nope'" in capsys.readouterr().err


PROVENANCE_PLUGIN = """
    from framework import hookimpl

    @hookimpl
    def register_strategies():
        return []

    @hookimpl
    def update_machine_info(machine_info):
        machine_info["machine"]["rack"] = "b7"
"""


def test_update_machine_info_adds_to_every_provenance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from framework.provenance import provenance

    (tmp_path / "rack_plugin.py").write_text(textwrap.dedent(PROVENANCE_PLUGIN))
    dist = tmp_path / "rack_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rack-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[bakeoff.strategies]\nrack = rack_plugin\n")
    assert "rack" not in provenance()["machine"]
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    try:
        assert provenance()["machine"]["rack"] == "b7"
    finally:
        sys.modules.pop("rack_plugin", None)
