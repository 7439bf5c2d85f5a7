"""The outside strategy in examples/registration-records: registered through the entry-point
group as a separately installed package would be, listed by `bakeoff strategies`, and run on
the whole corpus: it accepts what resource-table accepts (the design it is closest to: every
resource has a record, wherever it is kept), every run agrees with its reference, nothing leaks
or is released twice."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from framework.kit import conformance_problems
from framework.load.corpus import corpus_entries, manifests
from framework.plugins import get_plugin_manager, strategies

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "registration-records"
NAME = "registration-records"
ENTRIES = [e for m in manifests() for e in corpus_entries(m)]


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example on sys.path with the entry point its pyproject.toml declares, as pip leaves it."""
    dist = tmp_path / "bakeoff_registration_records-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bakeoff-registration-records\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[bakeoff.strategies]\n{NAME} = bakeoff_registration_records\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    monkeypatch.delenv("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    yield
    sys.modules.pop("bakeoff_registration_records", None)


def test_its_pyproject_declares_the_entry_point_the_fixture_installs() -> None:
    import tomllib

    meta = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["bakeoff.strategies"] == {NAME: "bakeoff_registration_records"}


def test_it_registers_as_an_outside_strategy(installed: None, capsys: pytest.CaptureFixture[str]) -> None:
    from framework.cli import main

    found = strategies(get_plugin_manager())
    assert found[NAME].origin == "bakeoff-registration-records"
    assert main(["strategies"]) == 0
    assert NAME in capsys.readouterr().out


def test_on_the_corpus_it_accepts_what_resource_table_accepts_and_keeps_the_kits_invariants(installed: None) -> None:
    """The conformance kit (framework.kit) on every corpus program. Where it and resource-table
    differ, resource-table is refused for its records' stack (the 512-byte limits) and the list,
    whose records are not on the stack, is not."""
    differ, more, failed = [], [], []
    for entry in ENTRIES:
        mine, problems = conformance_problems(NAME, entry)
        theirs, _ = conformance_problems("resource-table", entry)
        if (mine, theirs) == ("accepted", "rejected"):
            more.append(entry.program.name)
        elif mine != theirs:
            differ.append((entry.program.name, mine, theirs))
        if problems:
            failed.append((entry.program.name, problems[:3]))
    assert len(ENTRIES) > 80
    assert differ == [] and failed == []
    assert set(more) == {"fifty_objs", "fifty_objs_clean", "near_limit", "near_limit_clean"}


def test_the_kit_runs_as_a_pytest_plugin_in_a_strategys_own_suite(tmp_path: Path) -> None:
    """As the example's own suite would: the kit's test imported, -p framework.kit, the strategy named."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_conformance.py").write_text("from framework.kit import test_bakeoff_conformance  # noqa: F401\n")
    dist = tmp_path / "site" / "bakeoff_registration_records-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bakeoff-registration-records\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[bakeoff.strategies]\n{NAME} = bakeoff_registration_records\n")
    env = {k: v for k, v in os.environ.items() if k != "BAKEOFF_DISABLE_PLUGIN_AUTOLOAD"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), str(EXAMPLE / "src"), str(ROOT)])
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "framework.kit", "--bakeoff-strategy", NAME]
    argv += ["-k", "three_frames or basic or tail_main", "-p", "no:cacheprovider", "-o", "addopts=", str(suite)]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
    assert f"{NAME}/three_frames" not in done.stdout  # -q: one line, passed tests are dots
    assert int(done.stdout.strip().splitlines()[-1].split()[0]) >= 3


def test_the_package_builds_as_pip_builds_it(tmp_path: Path) -> None:
    """pip builds the wheel in an isolated environment, fetching setuptools from the index."""
    if importlib.util.find_spec("pip") is None:
        pytest.skip("no pip in this environment")
    import shutil

    source = tmp_path / "source"  # setuptools builds in the source tree: build a copy
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if done.returncode and "Could not find a version that satisfies the requirement setuptools" in done.stderr:
        pytest.skip("no package index reachable: pip cannot fetch setuptools to build the example")
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("bakeoff_registration_records-1.0-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "bakeoff_registration_records/registration_records.c" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_its_rows_are_in_the_bake_off(installed: None, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from framework.cli import main

    obj = str(ROOT / "programs" / "obj" / "cleanup_three_frames.o")
    assert main(["run", obj, "--strategy", "stock", "--strategy", NAME, "--json"]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out)["rows"] if r["strategy"] == NAME]
    held = [r for r in rows if r["program"] == "three_frames"]
    assert held and all(r["verdict"] == "accepted" and r["agrees"] for r in held)
    assert held[0]["code_growth_insns"] > 0 and held[0]["metadata_bytes"] == 0  # its cost is on the happy path
    throws = [r for r in held if r["throw_insns"] is not None]
    assert throws and all(r["released"] for r in throws)  # each forced throw released something


LEAKY = """
    from framework import Strategy, hookimpl

    class Leaky(Strategy):
        name = "leaky"
        version = "1"
        summary = "accepts every throw and releases nothing (stock's runtime)"

        def releases_on_throw(self, state, site):
            return True

    @hookimpl
    def register_strategies():
        return [Leaky()]
"""


def test_the_kit_finds_a_strategy_that_leaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "leaky_pkg.py").write_text(textwrap.dedent(LEAKY))
    dist = tmp_path / "leaky-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: leaky\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[bakeoff.strategies]\nleaky = leaky_pkg\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    try:
        entry = next(e for e in ENTRIES if e.program.name == "three_frames")
        verdict, problems = conformance_problems("leaky", entry)
    finally:
        sys.modules.pop("leaky_pkg", None)
    assert verdict == "mismatch"  # its runs leak where the reference releases everything
    assert any("leaked" in p for p in problems), problems
