"""Objects as users have them: eight compiled Linux samples (tests/fixtures/linux_samples), each
program verified by the project with the verdict and stack depth the live kernel gave, and, where
bpf() is permitted, loaded into the running kernel beside the project's verdict."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from framework.load.elf import load_object
from framework.oracle.check import available
from framework.oracle.compare import Agreement, side_by_side
from framework.verify import verify

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "linux_samples"
RECORDED = tomllib.loads((FIXTURES / "verdicts.toml").read_text())
PROGRAMS = [(p["object"], p["name"], p["verdict"], tuple(p["stack_depth"])) for p in RECORDED["program"]]


@pytest.mark.parametrize(("obj", "name", "verdict", "depth"), PROGRAMS, ids=lambda v: str(v))
def test_the_project_gives_the_kernels_verdict(obj: str, name: str, verdict: str, depth: tuple[int, ...]) -> None:
    (program,) = [p for p in load_object(FIXTURES / obj) if p.name == name]
    analysis = verify(program)
    assert (analysis.verdict.value, analysis.stack_depth) == (verdict, depth), analysis.message


def test_every_fixture_program_is_recorded() -> None:
    found = {(obj.name, p.name) for obj in sorted(FIXTURES.glob("*.o")) for p in load_object(obj)}
    assert found == {(o, n) for o, n, _, _ in PROGRAMS}


@pytest.mark.kernel
def test_the_live_kernel_agrees() -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    pairings = [pr for obj in sorted(FIXTURES.glob("*.o")) for pr in side_by_side(str(obj), load_object(obj))]
    assert len(pairings) == len(PROGRAMS)
    differ = [(p.program, p.agreement.value, p.kernel_message) for p in pairings if p.agreement is not Agreement.SAME]
    assert not differ, differ
