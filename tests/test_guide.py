"""docs/writing-a-strategy.md builds a strategy: its code blocks, taken as they are, make a package
that installs, registers, keeps the conformance kit's invariants on every corpus program, and
measures as the guide says it does."""

from __future__ import annotations

import re
import shlex
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from framework.kit import conformance_problems, corpus
from framework.pipeline import measure
from framework.plugins import get_plugin_manager, get_strategy, strategies

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "writing-a-strategy.md"
BLOCK = re.compile(r"^```(\w+) file=(\S+)\n(.*?)^```$", re.M | re.S)
NAME = "innermost-frame"


def guide_files() -> dict[str, str]:
    """The guide's code blocks, joined per file in the order they appear."""
    files: dict[str, list[str]] = {}
    for _, name, body in BLOCK.findall(GUIDE.read_text()):
        files.setdefault(name, []).append(body)
    return {name: "\n".join(parts) for name, parts in files.items()}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The guide's package on sys.path with the entry point its pyproject.toml declares, as pip leaves it."""
    where = tmp_path_factory.mktemp("guide")
    files = guide_files()
    for name, text in files.items():
        (where / name).write_text(text)
    meta = tomllib.loads(files["pyproject.toml"])["project"]
    dist = where / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n")
    eps = meta["entry-points"]["bakeoff.strategies"]
    (dist / "entry_points.txt").write_text("[bakeoff.strategies]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    patch = pytest.MonkeyPatch()
    patch.syspath_prepend(str(where))
    patch.delenv("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    yield
    patch.undo()
    sys.modules.pop("innermost_frame", None)


def test_the_guide_has_the_whole_package() -> None:
    assert set(guide_files()) == {"pyproject.toml", "innermost_frame.py", "innermost_frame.c"}


def test_it_registers_from_outside(installed: None) -> None:
    assert strategies(get_plugin_manager())[NAME].origin == NAME


def test_it_keeps_the_kits_invariants_and_measures_as_the_guide_says(installed: None) -> None:
    verdicts: dict[str, str] = {}
    broken = {}
    for entry in corpus():
        verdict, problems = conformance_problems(NAME, entry)
        verdicts[entry.program.name] = verdict
        if problems:
            broken[entry.program.name] = problems
    assert broken == {}
    text = " ".join(GUIDE.read_text().split())
    said = re.search(r"\((\S+), (\d+) programs\) it accepted (\d+) and refused (\d+)", text)
    assert said is not None, "the guide states its figures on the corpus"
    counts = [list(verdicts.values()).count(v) for v in ("accepted", "rejected")]
    assert [len(verdicts), *counts] == [int(said[2]), int(said[3]), int(said[4])]
    # the programs it names as refused where frame descriptors accept them
    named = re.search(r"it refuses (\w+) programs they accept: (.*?)\. That is", text)
    assert named is not None
    programs = re.findall(r"`(\w+)`", named[2])
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
    assert len(programs) == words.index(named[1])
    entries = {e.program.name: e for e in corpus()}
    for name in programs:
        assert verdicts[name] == "rejected", name
        assert measure(entries[name].program, get_strategy("frame-descriptors"), ()).verdict == "accepted", name


def test_it_releases_what_the_throwing_frame_holds(installed: None) -> None:
    entry = next(e for e in corpus() if e.program.name == "nested_iters")  # three iterators, by their slots
    costs = measure(entry.program, get_strategy(NAME), entry.inputs, hits=entry.force_hits)
    assert costs.verdict == "accepted" and costs.throws
    assert all(t.released == 3 for t in costs.throws)
    assert costs.metadata_bytes == 6 + 4 * 3 * len({t.throw_pc for t in costs.throws})


@pytest.mark.parametrize(
    "line",
    [line for line in GUIDE.read_text().splitlines() if line.startswith("    bakeoff ") or "=1 bakeoff " in line],
)
def test_its_command_lines_run(installed: None, line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from framework.cli import main

    words = shlex.split(line)
    while "=" in words[0]:  # VAR=value before the command
        key, value = words.pop(0).split("=", 1)
        monkeypatch.setenv(key, value)
    assert words.pop(0) == "bakeoff"
    paths = [w for w in words if "*" in w]
    for glob in paths:
        at = words.index(glob)
        words[at : at + 1] = sorted(str(p) for p in ROOT.glob(glob))
    words = [str(ROOT / w) if w.startswith("programs/") else w for w in words]
    assert main(words) == 0, line
