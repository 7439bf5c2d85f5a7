"""Every throwing point exercised (issue 7, item 6): each corpus program under each strategy
with a runtime that accepts it, on its declared inputs and with each throwing point forced
(at the first reach of its guard, and at the manifest's `force_hit`). After every run: nothing
leaked, released twice or used after release; the return value is the exception callback's
for the cookie, and the hand-cleaned twin's on the live kernel where there is one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framework import pipeline
from framework.cli import main
from framework.load.corpus import CorpusEntry
from framework.plugins import get_strategy, strategies
from framework.run.result import TIMEOUT_S, run_program
from framework.throwpoints import Force, throw_points

from .corpus import ENTRIES

BY_NAME = {e.program.name: e for e in ENTRIES}
# every registered strategy, on each corpus program whose manifest says it accepts it (an outside
# strategy has no expectations in the manifests: the conformance kit holds it to the corpus)
CASES = [
    (name, e) for name in strategies() for e in ENTRIES if e.spec["expect"].get(name, {}).get("verdict") == "accepted"
]


@pytest.mark.parametrize(("name", "entry"), CASES, ids=[f"{n}/{e.program.name}" for n, e in CASES])
def test_every_throwing_point_unwinds_cleanly(name: str, entry: CorpusEntry) -> None:
    verified = pipeline.verify(entry.program, get_strategy(name))
    assert verified.accepted, verified.analysis.message
    program, reached = verified.program, verified.analysis.throws_reached
    all_runs = pipeline.exercise(
        pipeline.plan(verified),
        entry.inputs,
        hits=entry.force_hits,
        twin_retvals=entry.twin_retvals(BY_NAME),
        timeout_s=entry.time_limit_s or TIMEOUT_S,
    )
    # an input the manifest marks `timeout` ends, as it goes, stopped by the program's time_limit_s:
    # no value, and no figure of it is measured
    stopped = [r for r in all_runs if r.throw_pc is None and r.result.input in entry.timeout_inputs]
    assert [(r.result.input, r.verdict) for r in stopped if r.verdict != "timeout" or r.measured] == []
    runs = [r for r in all_runs if r not in stopped]
    if entry.unsupported is not None:  # the machine stops at what its manifest says it does not model
        assert runs and all(r.verdict == "unsupported" and entry.unsupported in str(r.result.fault) for r in runs)
        return
    assert [(r.result.input, r.throw_pc, r.problems) for r in runs if r.problems] == []
    # every run agrees with its reference: the interpreter's run of the program as given, on the
    # same input and forced throw, under the ideal cleanup (framework.run.reference)
    assert [(r.result.input, r.throw_pc, r.verdict, r.check and r.check.differences) for r in runs
            if r.verdict != "accepted"] == []  # fmt: skip
    assert all(r.check is not None and r.check.agrees for r in runs) and runs
    assert throw_points(program, reached) == throw_points(program)  # no corpus throw is dead
    for point in throw_points(program):  # each point was driven to on some input, at each reach asked for
        for hit in {1, *entry.force_hits}:
            assert any(r.throw_pc == point.pc and r.hit == hit and r.result.threw for r in runs), (point, hit)
    rejected_by_stock = entry.spec["expect"]["stock"]["verdict"] == "rejected"
    if rejected_by_stock:  # it held something at a throw: this strategy's runtime released it
        assert any(r.result.released_by_unwinder for r in runs)


def test_stocks_runtime_under_frame_descriptors_tables_would_leak() -> None:
    """The checks are sharp: the same forced throw run on stock's runtime (which releases
    nothing) reports the leak frame-descriptors' runtime prevents."""
    entry = BY_NAME["four_frames"]
    planned = pipeline.plan(pipeline.verify(entry.program, get_strategy("frame-descriptors")))
    (point,) = throw_points(entry.program)
    own = pipeline.run(planned, entry.inputs[0], force=Force(point))
    stock = run_program(entry.program, entry.inputs[0], "jit", strategy="frame-descriptors", force=Force(point))
    assert own.threw and stock.threw
    assert sorted(r.kind for r in own.released_by_unwinder) == ["obj", "ringbuf", "ringbuf", "ringbuf_dynptr"]
    assert own.leaked == () and sorted(r.kind for r in stock.leaked) == sorted(r.kind for r in own.released_by_unwinder)


def test_frame_descriptors_releases_registers_of_every_frame() -> None:
    """four_regs: four objects the compiler keeps in r6-r9 across the throwing call, rebuilt
    from the callee's spill area (the RFC's callee_saved test)."""
    entry = BY_NAME["four_regs"]
    planned = pipeline.plan(pipeline.verify(entry.program, get_strategy("frame-descriptors")))
    assert any(h.register for site in planned.verified.analysis.throw_sites for f in site.frames for h in f.holdings)
    r = pipeline.run(planned, entry.inputs[0])
    assert r.threw and [x.kind for x in r.released_by_unwinder] == ["obj"] * 4 and not r.leaked
    assert r.x86_split.release > 0 and r.x86_split.lookup > 0


def test_exec_force_throw_all_json(capsys: pytest.CaptureFixture[str]) -> None:
    obj = str(Path(BY_NAME["four_frames"].manifest).parent.parent / "obj" / "rfc_cleanup.o")
    code = main(
        ["exec", obj, "--program", "four_frames", "--strategy", "frame-descriptors", "--force-throw", "all", "--json"]
    )
    runs = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [r["throw_pc"] for r in runs] == [None, throw_points(BY_NAME["four_frames"].program)[0].pc]
    for r in runs:
        assert r["threw"] and r["leaked"] == [] and r["double_released"] == [] and r["problems"] == []
        assert {"program", "strategy", "engine", "retval", "cookie", "x86_insns", "stack_high_water"} <= r.keys()


def test_exec_force_throw_names_the_pcs_it_has(capsys: pytest.CaptureFixture[str]) -> None:
    obj = str(Path(BY_NAME["four_frames"].manifest).parent.parent / "obj" / "rfc_cleanup.o")
    assert main(["exec", obj, "--program", "four_frames", "--strategy", "frame-descriptors", "--force-throw", "3"]) == 2
    pc = throw_points(BY_NAME["four_frames"].program)[0].pc
    assert f"--force-throw 3: not a reachable bpf_throw pc (have: {pc})" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(strategies()))
def test_exec_force_throw_all_reports_no_leak_for_any_program_it_accepts(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's last check, as a user runs it: `bakeoff exec --strategy S --force-throw all
    --json` on every corpus program S accepts (its first declared input)."""
    ran = 0
    for entry in ENTRIES:
        if entry.spec["expect"].get(name, {}).get("verdict") != "accepted":
            continue
        obj = entry.program.source
        code = main(["exec", obj, "--program", entry.program.name, "--strategy", name, "--force-throw=all", "--json"])
        runs = json.loads(capsys.readouterr().out)
        first = entry.inputs[0].name if entry.inputs else "default"
        if first in entry.timeout_inputs:  # exec takes the first input: stopped by time_limit_s, exit status 1
            assert code == 1, entry.program.name
            stopped = [r for r in runs if r["throw_pc"] is None]
            assert [(r["verdict"], r["retval"], r["timed_out"]) for r in stopped] == [("timeout", None, True)]
            runs = [r for r in runs if r not in stopped]
        elif entry.unsupported is not None:  # the machine stops where its manifest says: exit status 3
            assert code == 3 and runs and all(r["verdict"] == "unsupported" for r in runs), entry.program.name
            continue
        else:
            assert code == 0, entry.program.name
        for r in runs:
            assert r["leaked"] == [] and r["double_released"] == [] and r["problems"] == [], (entry.program.name, r)
        ran += len(runs)
    assert ran > len(ENTRIES) // 2  # most programs are accepted by every strategy


TIMED_OUT = [e for e in ENTRIES if e.timeout_inputs]


@pytest.mark.parametrize("entry", TIMED_OUT, ids=lambda e: e.program.name)
def test_a_run_stopped_by_its_time_limit_reports_no_leak(entry: CorpusEntry) -> None:
    """What a stopped run held was not leaked: the run did not end. Its verdict says all there is."""
    name = next(iter(sorted(entry.timeout_inputs)))
    inp = next(i for i in entry.inputs if i.name == name)
    planned = pipeline.plan(pipeline.verify(entry.program, get_strategy("stock")))
    (run,) = pipeline.exercise(planned, [inp], forced=False, timeout_s=entry.time_limit_s or TIMEOUT_S)
    assert run.verdict == "timeout" and run.result.timed_out and run.to_json()["retval"] is None
    assert run.result.leaked == () and run.problems == () and run.check is None
