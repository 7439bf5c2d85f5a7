"""`landing-pads` (LLVM's .bpf_cleanup, the 2026 series): the pads prepare emits, the verifier
checking them on every path, the runtime running them, and what they cost."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest

from framework import pipeline
from framework.isa.opcodes import Kind
from framework.load.asm import load_asm
from framework.load.corpus import CorpusEntry
from framework.load.program import CleanupRange, Program
from framework.pipeline import measure
from framework.plugins import get_strategy
from framework.verify import verify
from strategies.landing_pads import RESUME, LandingPads, Pads

from .corpus import ENTRIES

BY_NAME = {e.program.name: e for e in ENTRIES}


def _prepared(entry: CorpusEntry) -> tuple[Pads, Program]:
    """What landing-pads' prepare makes of the entry (given the program's survey): its state and program."""
    got = pipeline.prepare(entry.program, LandingPads())
    assert isinstance(got.state, Pads)
    return got.state, got.program


def _calls(program: Program, pc: int) -> str | None:
    insn = program.slots[pc]
    if insn is None or insn.kind is not Kind.CALL or insn.src != 2:
        return None
    return program.kfuncs[insn.imm]


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if e.spec["expect"]["stock"]["verdict"] == "rejected"], ids=lambda e: e.program.name
)
def test_every_pad_ends_in_unwind_resume_inside_its_callers_subprog(entry: CorpusEntry) -> None:
    _, prepared = _prepared(entry)
    for row in prepared.cleanup:
        sub = prepared.subprog_at(row.begin)
        assert sub.start <= row.pad < sub.end  # the pad runs in the covered call's frame
        call, after = prepared.slots[row.begin], None
        assert call is not None and call.kind is Kind.CALL
        end = next(pc for pc in range(row.pad, sub.end) if _calls(prepared, pc) == RESUME)
        after = prepared.slots[end + 1]
        assert after is not None and after.kind is Kind.EXIT


def test_the_table_is_twelve_bytes_a_row() -> None:
    v = pipeline.verify(BY_NAME["four_frames"].program, LandingPads())
    prepared, made = v.program, pipeline.plan(v).plan
    (count,) = struct.unpack_from("<I", made.metadata)
    assert count == len(prepared.cleanup) == 4 and made.metadata_bytes == 4 + 12 * count
    assert made.added_insns == len(prepared.slots) - len(BY_NAME["four_frames"].program.slots)


def test_the_verifier_checks_the_pad_on_every_path(tmp_path: Path) -> None:
    """A pad that releases nothing leaves the task held at the exception exit; a pad that
    releases it is accepted; the same program with no pad is stock's leak."""
    body = """
  r1 = 2
  call bpf_task_from_pid
  r6 = r0
  r1 = 7
  call bpf_throw
  r0 = 0
  exit
  {pad}
  call bpf_unwind_resume
  exit
"""
    kfuncs = "# kfunc: bpf_task_from_pid\n# kfunc: bpf_throw\n# kfunc: bpf_unwind_resume\n# kfunc: bpf_task_release\n"

    def program(pad: str) -> Program:
        path = tmp_path / "p.s"
        path.write_text(f"# program: p\n# section: tc\n{kfuncs}" + body.format(pad=pad))
        (p,) = load_asm(str(path))
        return dataclasses.replace(p, cleanup=(CleanupRange(4, 5, 7),))

    lp = LandingPads()
    releases = program("r1 = r6\n  if r1 == 0 goto +1\n  call bpf_task_release")
    kept = pipeline.verify(releases, lp)
    assert kept.accepted and kept.program is releases  # the compiler's pads are kept as they are
    forgets = program("r1 = 0")
    got = pipeline.verify(forgets, lp).analysis
    assert not got.accepted and got.message == "bpf_throw would lead to reference leak"
    assert not verify(dataclasses.replace(releases, cleanup=()), log_level=0).accepted
    r = pipeline.run(pipeline.plan(kept))
    assert r.threw and r.cookie == 7 and [x.kind for x in r.released_by_unwinder] == ["task"] and r.leaked == ()


def test_two_kinds_in_one_slot_is_the_only_refusal_the_pads_make() -> None:
    v = pipeline.verify(BY_NAME["two_kinds"].program, LandingPads())
    prepared, got = v.program, v.analysis
    assert not got.accepted and got.message == "arg#0 expected for bpf_obj_drop_impl()"
    # the pad's release is refused where the slot holds the task, not on the object's path
    assert got.coord is not None and got.coord.offset is not None
    pc = got.coord.offset  # file:section:pc
    assert _calls(prepared, pc) == "bpf_obj_drop_impl" and any(row.pad <= pc for row in prepared.cleanup)


def test_a_slot_that_also_holds_a_scalar_gets_a_cleanup_slot() -> None:
    # misc_or_ptr: the slot holds a ringbuf record on one path and a ktime on the other, as
    # invalid_or_ptr holds garbage: the record gets its own slot, zeroed on entry (what a
    # compiler's __attribute__((cleanup)) variable is), and the pad releases from there
    for name in ("misc_or_ptr", "invalid_or_ptr"):
        pads = pipeline.verify(BY_NAME[name].program, LandingPads()).analysis.strategy_state
        assert isinstance(pads, Pads) and pads.homes, name
        costs = measure(BY_NAME[name].program, get_strategy("landing-pads"), BY_NAME[name].inputs)
        assert costs.verdict == "accepted" and costs.problems == ()
        assert sum(costs.reserved_stack) == 8 * len(pads.homes)
        assert any(h.over_stock > 0 for h in costs.happy)  # the cleanup slot's stores


def test_no_conflict_no_happy_path_cost_and_pads_at_throw_time() -> None:
    for name in ("four_frames", "four_regs", "three_frames", "global_chain"):
        costs = measure(BY_NAME[name].program, get_strategy("landing-pads"), BY_NAME[name].inputs)
        assert costs.verdict == "accepted" and costs.problems == ()
        assert all(h.over_stock == 0 for h in costs.happy), name
        assert costs.throws and all(t.pad > 0 and t.released > 0 for t in costs.throws), name


def test_registered_like_any_plugin() -> None:
    assert isinstance(get_strategy("landing-pads"), LandingPads)
