"""The stock bpf_throw runtime: built by gcc into a cached blob, run inside the machine."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from fixup.helpers import THROW, chain, program

from framework.run.result import run_program
from framework.runtime import RUNTIME_BASE, build_runtime, stock_runtime
from framework.runtime.build import STOCK


def test_built_once_then_cached() -> None:
    first = stock_runtime()
    again = build_runtime(STOCK)
    assert first == again
    assert first.base == RUNTIME_BASE and first.throw == RUNTIME_BASE  # .text.walk comes first
    assert first.ranges()["walk"] and not first.ranges()["lookup"] and not first.ranges()["release"]


@pytest.mark.parametrize("depth", range(1, 9))
def test_throw_walks_to_the_boundary_and_runs_the_default_callback(depth: int) -> None:
    got = run_program(program(chain(depth, cookie=40 + depth)), None, "jit")
    assert got.fault is None
    assert (got.threw, got.cookie, got.retval) == (True, 40 + depth, 40 + depth)
    # stock: the shared walk only (walk.h). Each frame's subprog is found by a scan of the frame
    # table (bpf_stack_walker's bpf_prog_ksym_find), 8 instructions an entry, subprog i at entry
    # i: with this gcc (-O2), 28 for the entry, main and the callback call, 14 + 8 * i per subprog i
    split = got.x86_split
    assert split.walk == 28 + sum(14 + 8 * i for i in range(1, depth + 1))  # held to this gcc at -O2
    assert split.lookup == split.release == 0
    # the hidden callback: nop5, nop3, mov rsp/rbp, 5 pops, mov rsp, mov rax, leave, jmp thunk, ret
    assert split.exception_cb == 13
    assert got.x86_insns == split.program + split.walk


def test_walk_cost_grows_by_one_scan_entry_per_frame() -> None:
    # one more frame costs its own step and one more table entry scanned for every frame
    walks = [run_program(program(chain(d)), None, "jit").x86_split.walk for d in range(1, 9)]
    steps = [b - a for a, b in itertools.pairwise(walks)]
    growth = {b - a for a, b in itertools.pairwise(steps)}
    assert len(growth) == 1 and growth.pop() > 0 and steps[0] > 0


def test_exception_callback_takes_over_the_boundary_frame() -> None:
    """A callback: the boundary's callee-saved registers come back, the cb's return value is the result."""
    lines = ["r6 = 5", "call f1", "r0 = r6", "exit", "f1:", "r1 = 3", THROW, "exit"]
    lines += ["cb:", "r0 = r1", "r0 += 100", "exit"]
    prog = program(lines)
    slots = prog.slots
    cb_start = 7  # pcs: labels take none
    cb = dataclasses.replace(prog.subprogs[1], name="cb", start=cb_start, end=len(slots), is_exception_cb=True)
    subs = (prog.subprogs[0], dataclasses.replace(prog.subprogs[1], end=cb_start), cb)
    prog = dataclasses.replace(prog, subprogs=subs)
    got = run_program(prog, None, "jit")
    want = run_program(prog, None, "interp")
    assert (got.retval, got.threw, got.cookie) == (want.retval, want.threw, want.cookie) == (103, True, 3)
