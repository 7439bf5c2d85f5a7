"""The rewrite stage's artifact: what a strategy adds to a verified program (DESIGN.md's `Plan`).

A `Plan` says what the strategy keeps beside the program and what it inserts:
metadata tables in a documented encoding (their bytes are the report's
*metadata* figure), stack it reserves per subprog, BPF instructions it adds on
the happy path, and the C runtime that reads the tables at throw time.
`plan()` asks the strategy; one that leaves the program alone (stock) gets the
empty plan.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from framework.fixup import Fixed, fixup
from framework.fixup.depth import touched
from framework.fixup.patch import Insertion
from framework.load.program import Program
from framework.strategy import Strategy
from framework.verify.result import Analysis

__all__ = ["Plan", "own_stack", "plan"]


@dataclass(frozen=True, slots=True)
class Plan:
    strategy: str
    metadata: bytes = b""  # the strategy's tables, in its documented encoding
    extra_stack: tuple[int, ...] = ()  # bytes reserved per subprog beyond the verifier's depth
    added_insns: int | None = 0  # BPF instructions inserted on the happy path (None: not built yet)
    runtime: Path | None = None  # the C runtime beside the strategy's module (None: stock's)
    notes: tuple[str, ...] = field(default=())  # what the tables hold, for the report
    inserts: tuple[Insertion, ...] = ()  # the happy-path instructions, around original pcs
    kfuncs: tuple[str, ...] = ()  # functions the inserted calls name, after the program's kfuncs

    def applied(self, program: Program) -> Program:
        """`program` with the kfuncs the inserted calls name appended (what fixup patches)."""
        return dataclasses.replace(program, kfuncs=(*program.kfuncs, *self.kfuncs)) if self.kfuncs else program

    def fixup(self, program: Program) -> Fixed:
        """The kernel's post-verification rewrites of `program`, after this plan's insertions."""
        return fixup(self.applied(program), inserts=self.inserts)

    @property
    def metadata_bytes(self) -> int:
        return len(self.metadata)


def own_stack(program: Program) -> tuple[int, ...]:
    """Per subprog, the stack its own instructions touch, rounded to 8 (the kernel's rule, as the
    JIT sizes frames): a strategy's reserved region goes right below it."""
    return tuple((touched(program.slots, s.start, s.end) + 7) // 8 * 8 for s in program.subprogs)


def plan(strategy: Strategy, program: Program, analysis: Analysis) -> Plan:
    """The rewrite stage: the strategy's plan for an accepted program, or the empty one."""
    made = strategy.rewrite(program, analysis)
    if made is None:
        return Plan(strategy.name, extra_stack=(0,) * len(analysis.stack_depth))
    if not isinstance(made, Plan):
        raise TypeError(f"{strategy.name}.rewrite returned {type(made).__name__}, not a Plan")
    return made
