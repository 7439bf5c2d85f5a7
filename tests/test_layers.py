"""Data flows one way: a stage imports only earlier stages (DESIGN.md's pipeline).

The contracts live in pyproject.toml (`[tool.importlinter]`) and `lint-imports` checks them
(tox -e lint runs it too): every import in framework/ and strategies/, at module level or
inside a function, not under `if TYPE_CHECKING:`. Here the suite runs the same check and makes
sure no module of framework/ escapes the layers.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORK = ROOT / "framework"


def _contract(contract_id: str) -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == contract_id)


def _layer_names() -> set[str]:
    layers = _contract("layers")["layers"]
    assert isinstance(layers, list)
    return {name.strip() for layer in layers for name in layer.replace("|", ":").split(":")}


def test_every_framework_module_is_in_a_layer() -> None:
    names = _layer_names() | {"__init__"}  # `from framework import hookimpl`: the package itself
    outside = sorted(
        {(p.relative_to(FRAMEWORK).parts[0] if p.parent != FRAMEWORK else p.stem) for p in FRAMEWORK.rglob("*.py")}
        - names
    )
    assert outside == [], f"add them to [tool.importlinter] layers in pyproject.toml: {outside}"


def test_the_import_contracts_are_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]' brings it)")
    done = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
    assert "3 kept, 0 broken" in done.stdout


SHARED = {"acquire_slots", "descriptors"}  # libraries two strategies share, registering nothing


def test_every_strategy_module_is_independent_of_the_others() -> None:
    """A module of strategies/ that registers a strategy is in the independence contract; one that
    does not is a shared library (and registers nothing)."""
    modules = {m.removeprefix("strategies.") for m in _contract("independent")["modules"]}  # type: ignore[union-attr]
    found = {p.stem for p in (ROOT / "strategies").glob("*.py")} - {"__init__"}
    assert found - SHARED == modules
    for name in SHARED:
        assert "register_strategies" not in (ROOT / "strategies" / f"{name}.py").read_text(), name


def test_strategies_may_import_nothing_of_the_framework_but_the_plugin_api() -> None:
    """Every module of framework/ but the plugin API (and the package's own `__init__`) is
    forbidden to strategies: a new one is forbidden the day it is added."""
    forbidden = {m.removeprefix("framework.") for m in _contract("plugins")["forbidden_modules"]}  # type: ignore[union-attr]
    open_to_plugins = {"__init__", "plugin_api"}
    modules = {
        (p.relative_to(FRAMEWORK).parts[0] if p.parent != FRAMEWORK else p.stem) for p in FRAMEWORK.rglob("*.py")
    }
    assert sorted(modules - open_to_plugins - forbidden) == []
    assert not forbidden & open_to_plugins


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    """No two modules import each other, directly or through others: at module level or inside a
    function (an import deferred into a function is still a dependency), types aside."""
    grimp = pytest.importorskip("grimp", reason="import-linter brings grimp (pip install -e '.[test]')")
    built = grimp.build_graph("framework", "strategies", exclude_type_checking_imports=True)
    graph = {m: set(built.find_modules_directly_imported_by(m)) for m in built.modules}
    assert _cycles(graph) == []
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the check itself
