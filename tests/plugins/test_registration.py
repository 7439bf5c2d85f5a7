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

        def rewrite(self, program, analysis):
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
    rows = json.loads(capsys.readouterr().out)
    assert status == 1  # its rows are problems of the bake-off
    raised = [r for r in rows if r["strategy"] == "raising"]
    assert raised and all(r["verdict"] == "error" for r in raised)
    assert all("ZeroDivisionError at outside_strategy_pkg.py:" in r["message"] for r in raised)
    assert all("a bug in the plugin" in r["message"] for r in raised)
    stock = [r for r in rows if r["strategy"] == "stock"]
    assert stock and all(r["verdict"] == "accepted" and not r["problems"] for r in stock)
