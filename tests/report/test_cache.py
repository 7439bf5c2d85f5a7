"""The case-result cache and runs across processes and machines: a rerun takes every unchanged
(program, strategy) from the cache, a changed strategy is measured again alone, and a Dask
cluster gives the rows the local run gives."""

from __future__ import annotations

import io
import json
import sys
import textwrap
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from framework.cli import main
from framework.report.cache import strategy_digest


@pytest.fixture(autouse=True)
def caching(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAKEOFF_NO_CACHE", raising=False)  # the suite measures every time elsewhere


ROOT = Path(__file__).resolve().parents[2]
OBJECT = str(ROOT / "programs" / "obj" / "basic_throw.o")
PROGRAMS = 3  # basic_throw.o's

STRATEGY = """
    from framework.plugin_api import Plan, Strategy, hookimpl


    class Grown(Strategy):
        name = "grown"
        version = "{version}"
        summary = "stock, with {reserved} bytes of stack reserved in the main frame"

        def reserved_stack(self, state, subprog, peak):
            return {reserved} if subprog == 0 else 0

        def rewrite(self, program, analysis, state):
            extra = tuple({reserved} if i == 0 else 0 for i in range(len(analysis.stack_depth)))
            return Plan(self.name, extra_stack=extra)


    @hookimpl
    def register_strategies():
        return [Grown()]
"""


def _run(argv: list[str]) -> dict[str, Any]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main([*argv, "--json"]) == 0
    result: dict[str, Any] = json.loads(buf.getvalue())
    return result


def _with_grown(tmp: Path, version: str, results: Path) -> dict[str, Any]:
    """`bakeoff run` of basic_throw.o under stock and an outside strategy at `version`."""
    where = tmp / f"grown-{version}"
    where.mkdir()
    module = f"grown_v{version}"
    (where / f"{module}.py").write_text(textwrap.dedent(STRATEGY.format(version=version, reserved=8 * int(version))))
    dist = where / f"grown-{version}.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: grown\nVersion: {version}.0\n")
    (dist / "entry_points.txt").write_text(f"[bakeoff.strategies]\ngrown = {module}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(where))
        patch.delenv("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD", raising=False)
        try:
            return _run(["run", OBJECT, "--strategy", "stock", "--strategy", "grown", "--results", str(results)])
        finally:
            sys.modules.pop(module, None)


def test_a_rerun_is_all_cache_and_the_same_rows(tmp_path: Path) -> None:
    results = tmp_path / "results"
    argv = ["run", OBJECT, "--results", str(results), "--jobs", "1"]
    first, second = _run(argv), _run(argv)
    pairs = PROGRAMS * len(first["provenance"]["strategies"])
    assert first["provenance"]["cache"] == {"measured": pairs, "cached": 0}
    assert second["provenance"]["cache"] == {"measured": 0, "cached": pairs}
    assert second["rows"] == first["rows"]
    fresh = _run([*argv, "--no-cache"])
    assert fresh["provenance"]["cache"] == {"measured": pairs, "cached": 0} and fresh["rows"] == first["rows"]


def test_bakeoff_no_cache_in_the_environment_measures_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["run", OBJECT, "--results", str(tmp_path), "--jobs", "1", "--strategy", "stock"]
    _run(argv)
    monkeypatch.setenv("BAKEOFF_NO_CACHE", "1")
    assert _run(argv)["provenance"]["cache"] == {"measured": PROGRAMS, "cached": 0}


def test_a_changed_strategy_alone_is_measured_again(tmp_path: Path) -> None:
    results = tmp_path / "results"
    one = _with_grown(tmp_path, "1", results)
    two = _with_grown(tmp_path, "2", results)
    assert one["provenance"]["cache"] == {"measured": 2 * PROGRAMS, "cached": 0}
    assert two["provenance"]["cache"] == {"measured": PROGRAMS, "cached": PROGRAMS}  # stock's came from the cache
    grown = {r["program"]: r["extra_stack_bytes"] for r in two["rows"] if r["strategy"] == "grown"}
    assert set(grown.values()) == {16}  # version 2's figures, not version 1's
    stock = [r for r in one["rows"] if r["strategy"] == "stock"]
    assert stock == [r for r in two["rows"] if r["strategy"] == "stock"]


def test_the_strategy_digest_follows_its_code() -> None:
    from framework.plugins import get_strategy

    a, b = get_strategy("hybrid-spill"), get_strategy("frame-descriptors")
    assert strategy_digest(a) == strategy_digest(get_strategy("hybrid-spill"))
    assert strategy_digest(a) != strategy_digest(b)


def test_a_dask_cluster_gives_the_local_rows(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed ([cluster] extra)")
    local = _run(["run", OBJECT, "--results", str(tmp_path / "a"), "--jobs", "1", "--no-cache"])
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        remote = _run(["run", OBJECT, "--results", str(tmp_path / "b"), "--scheduler", cluster.scheduler_address])
    assert remote["rows"] == local["rows"]
    command = remote["provenance"]["command"]
    assert command[command.index("--scheduler") + 1] == cluster.scheduler_address


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("distributed", reason="Dask distributed is not installed ([cluster] extra)")
    code = main(["run", OBJECT, "--results", str(tmp_path), "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("bakeoff: error: tcp://127.0.0.1:9: cannot reach the Dask scheduler")
