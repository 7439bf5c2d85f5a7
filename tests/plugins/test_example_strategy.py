"""The outside strategy in examples/registration-records: registered through the entry-point
group as a separately installed package would be, listed by `bakeoff strategies`, and run on
the whole corpus: it accepts what resource-table accepts (the design it is closest to: every
resource has a record, wherever it is kept), every run agrees with its reference, nothing leaks
or is released twice."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from framework.load.corpus import CorpusEntry, corpus_entries, manifests
from framework.measure import measure
from framework.plugins import get_plugin_manager, get_strategy, strategies
from framework.run.result import TIMEOUT_S

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


def _rows(entry: CorpusEntry, name: str) -> tuple[str, str, list[str], list[str]]:
    costs = measure(
        entry.program, get_strategy(name), entry.inputs, hits=entry.force_hits,
        timeout_s=entry.time_limit_s or TIMEOUT_S, expected_timeouts=entry.timeout_inputs,
    )  # fmt: skip
    bad = [f"{r.input}@{r.throw_pc}: {r.verdict}" for r in costs.runs if r.verdict != "accepted" and not r.expected]
    declared = tuple(f"{i}, throw pc None:" for i in entry.timeout_inputs)  # the manifest's expected timeouts
    problems = [p for p in costs.problems if not p.startswith(declared)]
    return costs.verdict if costs.verdict != "timeout" else "accepted", costs.message or "", bad, problems


def test_on_the_corpus_it_accepts_what_resource_table_accepts_and_every_run_agrees(installed: None) -> None:
    """Where the two differ, resource-table is refused for its records' stack (the 512-byte
    limits) and the list, whose records are not on the stack, is not."""
    differ, more, failed = [], [], []
    for entry in ENTRIES:
        mine, _, bad, problems = _rows(entry, NAME)
        theirs, why, _, _ = _rows(entry, "resource-table")
        if (mine, theirs) == ("accepted", "rejected") and why.endswith("Too large"):
            more.append(entry.program.name)
        elif mine != theirs:
            differ.append((entry.program.name, mine, theirs))
        if bad or problems:
            failed.append((entry.program.name, bad[:3], problems[:3]))
    assert len(ENTRIES) > 80
    assert differ == [] and failed == []
    assert {"fifty_objs", "near_limit"} <= set(more)  # fifty objects held at once; a frame near 512 bytes


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
    rows = [r for r in json.loads(capsys.readouterr().out) if r["strategy"] == NAME]
    held = {r["program"]: r for r in rows}["three_frames"]
    assert held["verdict"] == "accepted" and held["agrees"] and not held["problems"]
    assert held["added_insns"] > 0 and held["metadata_bytes"] == 0  # its cost is on the happy path, no tables
    assert held["throws"] and all(t["released"] for t in held["throws"])  # each forced throw released something
