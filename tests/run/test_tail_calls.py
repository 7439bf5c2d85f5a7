"""Tail calls (bpf_tail_call) on both engines, as Linux 6.18 runs them on x86-64: the linked
view of the caller and the programs its prog array holds (framework.run.tailcall), the frame a
tail call replaces, the chain's count, and a throw in a tail-called program; on the machine,
each target JITed on its own, the emulated prog arrays, and the direct tail calls patched
(framework.machine.tailcalls). The corpus object programs/c/tail_calls.bpf.c carries the live
kernel's answers (its `[program.kernel]` tables)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from framework.errors import InputError
from framework.isa import opcodes as op
from framework.kernel.api import Engine, Kernel
from framework.load.corpus import CorpusEntry, RunInput, corpus_entries
from framework.load.prog_array import ProgArraySlot, targets
from framework.plugins import get_strategy, strategies
from framework.run.callstack import STACK_STRIDE, STACK_TOP
from framework.run.frames import ThrowState
from framework.run.result import run_program
from framework.run.tailcall import link
from framework.strategy import STOCK_RUNTIME

MANIFEST = Path(__file__).resolve().parents[2] / "programs" / "c" / "tail_calls.toml"
ENTRIES = {e.program.name: e for e in corpus_entries(MANIFEST)}
CASES = [(e, i) for e in ENTRIES.values() for i in e.inputs if e.spec["kernel"]["verdict"] == "accepted"]


def _input(entry: CorpusEntry, name: str) -> RunInput:
    return next(i for i in entry.inputs if i.name == name)


def test_an_input_names_its_prog_array_slots() -> None:
    entry = ENTRIES["tail_subprog"]
    assert _input(entry, "throw").prog_array == (ProgArraySlot("jmp_table", 1, "throw_target"),)
    assert _input(entry, "empty").prog_array == ()


def test_targets_are_programs_of_the_callers_object_in_its_prog_arrays() -> None:
    caller = ENTRIES["tail_main"].program
    assert targets(caller, (ProgArraySlot("jmp_table", 3, "tail_main"),)) == {"tail_main": caller}
    with pytest.raises(InputError, match="not in the object: nowhere"):
        targets(caller, (ProgArraySlot("jmp_table", 0, "nowhere"),))
    with pytest.raises(InputError, match="slot 4 is past max_entries 4"):
        targets(caller, (ProgArraySlot("jmp_table", 4, "len_target"),))
    with pytest.raises(InputError, match=r"'tail_cal\.bss' is not a prog_array map"):
        targets(caller, (ProgArraySlot("tail_cal.bss", 0, "len_target"),))


def test_the_linked_view_puts_each_target_beside_the_caller_with_the_callers_maps() -> None:
    caller = ENTRIES["tail_main"].program
    cb_target = ENTRIES["throw_cb_target"].program
    slots = (ProgArraySlot("jmp_table", 0, "throw_cb_target"), ProgArraySlot("jmp_table", 1, "len_target"))
    linked = link(caller, slots)
    code = linked.program.slots
    assert code[: len(caller.slots)] == caller.slots
    assert [i.name for i in linked.images] == ["tail_main", "len_target", "throw_cb_target"]
    image = linked.images[2]
    assert image.exception_cb is not None and image.exception_cb.name == "add_hundred"
    assert image.exception_cb.start == image.start + cb_target.exception_cb.start  # type: ignore[union-attr]
    # the caller has no kfunc: bpf_throw joins its list, the target's call names it there
    assert linked.program.kfuncs == ("bpf_throw",)
    calls = [i for i in code[image.start :] if i is not None and i.kind is op.Kind.CALL]
    assert [(c.src, c.imm) for c in calls] == [(op.PSEUDO_KFUNC_CALL, 0)]
    assert [m.name for m in linked.program.maps] == [m.name for m in caller.maps]  # one object, one set of maps
    array = linked.arrays["jmp_table"]
    assert array.max_entries == 4 and array.slots == {0: image, 1: linked.images[1]}


def test_a_targets_map_references_name_the_same_maps_in_the_linked_view() -> None:
    caller = ENTRIES["len_target"].program
    target = ENTRIES["tail_chain"].program  # reads and writes .bss, tail-calls through jmp_table
    linked = link(caller, (ProgArraySlot("jmp_table", 0, "tail_chain"),))
    start = linked.images[1].start
    refs = 0
    for ours, theirs in zip(linked.program.slots[start:], target.slots, strict=True):
        if theirs is not None and theirs.kind is op.Kind.LD_IMM64 and theirs.src != 0:
            assert ours is not None and linked.program.maps[ours.imm].name == target.maps[theirs.imm].name
            refs += 1
    assert refs == 2  # .bss and jmp_table


@pytest.mark.parametrize("engine", ["interp", "jit"])
@pytest.mark.parametrize(("entry", "run_input"), CASES, ids=[f"{e.program.name}-{i.name}" for e, i in CASES])
def test_each_engine_returns_what_the_kernel_returned(entry: CorpusEntry, run_input: RunInput, engine: str) -> None:
    got = run_program(entry.program, run_input, engine)
    assert got.fault is None and not got.unsupported
    assert got.retval == entry.spec["kernel"]["retval"][run_input.name]
    assert got.threw == entry.spec["expect"]["stock"]["threw"][run_input.name]


def test_a_throw_in_a_target_returns_its_callbacks_value_to_the_tail_callers_caller() -> None:
    entry = ENTRIES["tail_subprog"]
    seen: list[ThrowState] = []

    def unwinder(state: ThrowState, kernel: Kernel, engine: Engine) -> None:
        seen.append(state)

    got = run_program(entry.program, _input(entry, "throw_cb"), "interp", unwinder=unwinder)
    # the target threw and its callback took it: main goes on with what hop's frame returned
    assert (got.retval, got.threw, got.cookie, got.throw_target) == (16 + 100 + 8, True, 16, "throw_cb_target")
    # the target's main ran on hop's frame (frame 1), its exception boundary: the unwinder sees it alone
    (state,) = seen
    assert state.cookie == 16
    assert [(f.subprog, f.fp) for f in state.frames] == [("throw_cb_target", STACK_TOP - STACK_STRIDE)]


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_a_tail_call_from_main_that_throws_ends_the_run_with_the_targets_value(engine: str) -> None:
    entry = ENTRIES["tail_main"]
    got = run_program(entry.program, _input(entry, "throw_cb"), engine)
    assert (got.retval, got.threw, got.throw_target) == (116, True, "throw_cb_target")
    own = run_program(ENTRIES["throw_cb_target"].program, _input(ENTRIES["throw_cb_target"], "direct"), engine)
    assert (own.retval, own.threw, own.throw_target) == (116, True, None)  # its own run: its own boundary


def test_only_tail_calls_that_find_a_program_count() -> None:
    # x86-64 (emit_bpf_tail_call_indirect): "Inc tail_call_cnt if the slot is populated"
    entry = ENTRIES["tail_after_misses"]
    assert run_program(entry.program, _input(entry, "len"), "interp").retval == entry.spec["kernel"]["retval"]["len"]
    chain = ENTRIES["tail_chain"]
    assert run_program(chain.program, _input(chain, "self"), "interp").retval == 1 + 33  # MAX_TAIL_CALL_CNT


def test_the_machine_counts_only_what_runs_a_filled_direct_slot_jumps_an_empty_one_falls_through() -> None:
    entry = ENTRIES["tail_main"]  # a direct tail call (poke descriptor): patched only when slot 0 is filled
    empty = run_program(entry.program, _input(entry, "empty"), "jit")
    filled = run_program(entry.program, _input(entry, "len"), "jit")
    target = run_program(ENTRIES["len_target"].program, _input(ENTRIES["len_target"], "direct"), "jit")
    assert empty.x86_insns is not None and filled.x86_insns is not None and target.x86_insns is not None
    # the caller up to the patched jmp, then the target from X86_TAIL_CALL_OFFSET: its prologue's
    # first four instructions (nop5, nop3, push rbp, mov rbp, rsp) are skipped
    assert filled.x86_insns != empty.x86_insns
    assert filled.x86_insns < empty.x86_insns + target.x86_insns


@pytest.mark.parametrize("strategy", sorted(strategies()))
def test_a_throw_in_a_target_unwinds_under_every_strategy(strategy: str) -> None:
    """Each target is verified, planned and JITed on its own (a fresh instance of the strategy), and its
    throw reads its own table: every run agrees with the interpreter's and returns the kernel's value."""
    from framework.pipeline import measure

    entry = ENTRIES["tail_subprog"]
    got = measure(entry.program, type(get_strategy(strategy))(), entry.inputs)
    assert got.verdict == "accepted", got.message
    runs = {c.input: c for c in got.runs if c.throw_pc is None}
    assert {"throw", "throw_cb"} <= set(runs)
    assert [(c.input, c.verdict) for c in runs.values() if c.verdict != "accepted"] == []
    assert {i: runs[i].retval for i in ("throw", "throw_cb")} == {"throw": 24, "throw_cb": 124}


def _held_input() -> RunInput:
    """tail_subprog's `throw` input, slot 1 holding throw_held_target instead."""
    base = _input(ENTRIES["tail_subprog"], "throw")
    return dataclasses.replace(base, name="held", prog_array=(ProgArraySlot("jmp_table", 1, "throw_held_target"),))


@pytest.mark.parametrize("strategy", sorted(n for n, r in strategies().items() if r.strategy.runtime != STOCK_RUNTIME))
def test_a_target_holding_an_object_at_its_throw_has_it_released_from_its_own_table(strategy: str) -> None:
    """The target is reached by a tail call from a subprog; its throw is unwound with the target's
    table, not the caller's (the caller's has no entry for the target's frames): the object is
    released once, nothing leaks, and main goes on with the cookie + 8."""
    from framework import pipeline

    planned = pipeline.plan(pipeline.verify(ENTRIES["tail_subprog"].program, get_strategy(strategy)))
    got = pipeline.run(planned, _held_input())
    assert got.fault is None, got.fault
    assert (got.retval, got.threw, got.throw_target) == (16 + 8, True, "throw_held_target")
    assert [r.kind for r in got.released_by_unwinder] == ["obj"]
    assert got.leaked == () and got.double_released == ()


def test_a_target_stock_refuses_cannot_be_tail_called_under_stock() -> None:
    with pytest.raises(InputError, match="throw_held_target is refused under stock"):
        run_program(ENTRIES["tail_subprog"].program, _held_input(), "jit")
