"""The fixup stage run on a plan: the verified program, the strategy's insertions, the verifier's record."""

from __future__ import annotations

from framework.fixup.stage import Fixed, fixup
from framework.load.program import Program
from framework.plan import Plan, baseline

__all__ = ["fixup_planned", "stock_fixup"]


def fixup_planned(plan: Plan, program: Program) -> Fixed:
    """The kernel's post-verification rewrites of `program` (the verified one), after `plan`'s insertions."""
    return fixup(plan.applied(program), plan.record, inserts=plan.inserts)


def stock_fixup(program: Program) -> Fixed:
    """`program` verified (as `baseline`) and rewritten as stock's JIT gets it."""
    return fixup_planned(baseline(program), program)
