"""Conformance mode: run bpf_conformance cases on the JIT, with the suite's harness conventions.

R1 = the case's memory, R2 = its length (0 and 0 without memory); every subprog
gets the suite's 512-byte stack; helper 5 (also through `callx`) returns
without effect, r0 = r1, as `framework.kernel.harness.ConformanceKernel` does.
Before the JIT, the division guards and the cmpxchg zero extension are applied
(`framework.jit.fixups`), as the kernel's fixups would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.opcodes import Kind
from framework.jit import JitError, SubprogSpec, jit
from framework.jit.fixups import apply
from framework.load.conformance import ConformanceCase, load_case
from framework.machine.machine import Machine, ServiceCall
from framework.machine.memory import StubResolver

STACK = 512  # the suite's (and ubpf's) stack per frame
MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    ok: bool
    expected: int | None
    got: int | None
    error: str | None = None
    x86_insns: int | None = None
    stack_high_water: int | None = None


@dataclass(frozen=True, slots=True)
class ConformanceReport:
    engine: str
    passed: int
    failed: int
    cases: tuple[CaseResult, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "passed": self.passed,
            "failed": self.failed,
            "cases": [{"name": c.name, "ok": c.ok, "expected": c.expected, "got": c.got} for c in self.cases],
        }


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


def _harness_helper(call: ServiceCall) -> int:
    return call.args[0]


def run_case(case: ConformanceCase) -> CaseResult:
    """JIT one case and run it; a JIT error or fault is a failed case, never an exception."""
    try:
        fixed = apply(case.slots, subprog_bounds(case.slots))
        subs = [SubprogSpec(f"f{i}", s, e) for i, (s, e) in enumerate(fixed.bounds)]
        image = jit(fixed.slots, subs, stack_depths=[STACK] * len(subs), resolver=StubResolver())
    except JitError as exc:
        return CaseResult(case.name, False, case.expected, None, f"jit: {exc}")
    machine = Machine(image, helpers={5: _harness_helper})
    args = (0, 0)
    if case.mem:
        args = (machine.map_region("mem", case.mem), len(case.mem))
    result = machine.run(args)
    if result.fault is not None:
        return CaseResult(case.name, False, case.expected, None, f"fault: {result.fault}", result.x86_insns)
    got = result.retval & MASK64
    expected = None if case.expected is None else case.expected & MASK64
    return CaseResult(case.name, got == expected, expected, got, None, result.x86_insns, result.stack_high_water)


def run_conformance_jit(paths: Iterable[str | Path]) -> ConformanceReport:
    """Every `.data` file under `paths` (files or directories), in name order."""
    files: list[Path] = []
    for p in map(Path, paths):
        files += sorted(p.glob("*.data")) if p.is_dir() else [p]
    cases = tuple(run_case(load_case(f)) for f in files)
    passed = sum(c.ok for c in cases)
    return ConformanceReport("jit", passed, len(cases) - passed, cases)
