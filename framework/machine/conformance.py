"""Conformance mode: run bpf_conformance cases on the JIT, with the suite's harness conventions.

The harness is `framework.kernel.harness.ConformanceKernel` behind the trap
stubs (`KernelBridge`): R1 = the case's memory, R2 = its length; helper 5 (also
through `callx`) returns without effect. Every subprog gets the suite's
512-byte stack.
Before the JIT, the division guards and the cmpxchg zero extension are applied
(`framework.fixup.fixup_slots`), as the kernel's fixups would.
"""

from __future__ import annotations

from framework.fixup import fixup_slots
from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.opcodes import Kind
from framework.jit import JitError, SubprogSpec, jit
from framework.kernel.harness import ConformanceKernel
from framework.load.conformance import CaseResult, ConformanceCase
from framework.machine.bridge import KernelBridge, KernelResolver
from framework.machine.machine import Machine, MachineRun
from framework.machine.memory import COUNTER

STACK = 512  # the suite's (and ubpf's) stack per frame
TIMEOUT_US = 10_000_000  # a case still running after 10 s is a failure, not a hang
MASK64 = (1 << 64) - 1


def subprog_bounds(slots: Slots) -> list[tuple[int, int]]:
    """Subprogs as the kernel finds them (add_subprog_and_kfunc): pc 0 and every
    BPF-to-BPF call or ld_imm64-of-function target."""
    starts = {0}
    for pc, insn in enumerate(slots):
        if insn is None:
            continue
        if (insn.kind is Kind.CALL and insn.src == op.PSEUDO_CALL) or (
            insn.kind is Kind.LD_IMM64 and insn.src == op.PSEUDO_FUNC
        ):
            starts.add(insn.jump_target(pc))
    ordered = sorted(starts)
    return [(s, e) for s, e in zip(ordered, [*ordered[1:], len(slots)], strict=True)]


def run_case(case: ConformanceCase) -> tuple[CaseResult, MachineRun | None]:
    """JIT one case and run it: its `CaseResult` (as `framework.run.result` builds
    them for the interpreter) and the machine's `MachineRun` (None if the JIT refused)."""
    try:
        fixed = fixup_slots(case.slots, subprog_bounds(case.slots))
        subs = [SubprogSpec(f"f{i}", s, e) for i, (s, e) in enumerate(fixed.bounds)]
        kernel = ConformanceKernel(case.mem)
        image = jit(
            fixed.slots, subs, stack_depths=[STACK] * len(subs), resolver=KernelResolver(kernel), counter=COUNTER
        )
    except JitError as exc:
        got = f"jit: {exc}"
        expected = case.error if case.error is not None else case.expected
        return CaseResult(case.name, case.error is not None, expected, got), None
    machine = Machine(image)
    KernelBridge(machine, kernel)
    result = machine.run(kernel.args, timeout_us=TIMEOUT_US)
    fault = None if result.fault is None else str(result.fault)
    r0 = result.retval & MASK64
    if case.error is not None:
        return CaseResult(case.name, fault is not None, case.error, fault or r0), result
    if fault is not None:
        return CaseResult(case.name, False, case.expected, fault), result
    return CaseResult(case.name, r0 == case.expected, case.expected, r0), result
