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

from framework.isa.patch import Insertion
from framework.isa.stack import touched
from framework.load.program import Program
from framework.strategy import Strategy
from framework.verify import verify
from framework.verify.result import Analysis, ThrowSite, VerifierRecord

__all__ = ["Plan", "baseline", "own_stack", "plan"]


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
    record: VerifierRecord = field(default_factory=VerifierRecord)  # what the verifier saw per pc (for fixup)

    def applied(self, program: Program) -> Program:
        """`program` with the kfuncs the inserted calls name appended (what fixup patches)."""
        return dataclasses.replace(program, kfuncs=(*program.kfuncs, *self.kfuncs)) if self.kfuncs else program

    @property
    def metadata_bytes(self) -> int:
        return len(self.metadata)


def own_stack(program: Program) -> tuple[int, ...]:
    """Per subprog, the stack its own instructions touch, rounded to 8 (the kernel's rule, as the
    JIT sizes frames): a strategy's reserved region goes right below it."""
    return tuple((touched(program.slots, s.start, s.end) + 7) // 8 * 8 for s in program.subprogs)


def plan(strategy: Strategy, program: Program, analysis: Analysis) -> Plan:
    """The rewrite stage: the strategy's plan for an accepted program, or the empty one, with the
    verifier's record of `program` for the fixup stage."""
    made = strategy.rewrite(program, analysis, analysis.strategy_state)
    if made is None:
        return Plan(strategy.name, extra_stack=(0,) * len(analysis.stack_depth), record=analysis.record)
    if not isinstance(made, Plan):
        raise TypeError(f"{strategy.name}.rewrite returned {type(made).__name__}, not a Plan")
    return dataclasses.replace(made, record=analysis.record)


class _Baseline(Strategy):
    """Stock, letting a throw through whatever it holds: the verifier's record of a program that
    stock refuses only for what it holds at a throw (the JIT of it the bake-off measures against)."""

    name = "stock (baseline)"

    def releases_on_throw(self, state: object, site: ThrowSite) -> bool:
        return True


def baseline(program: Program) -> Plan:
    """The empty plan for `program` as stock would JIT it, carrying the verifier's record of it.
    Where the verifier stops early (the program is refused for another reason), the record holds
    what it reached; a context access it never typed is not converted, and the machine refuses
    to run one that reaches the context (framework.machine.engine)."""
    analysis = verify(program, _Baseline(), log_level=0)
    return Plan("stock", extra_stack=(0,) * len(analysis.stack_depth), record=analysis.record)
