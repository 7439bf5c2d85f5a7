"""Throwing points and the branches that guard them: what `exec --force-throw` drives a run to.

A throwing point is a `bpf_throw` call reachable from main or the exception
callback. Its guards are the conditional jumps with exactly one side from which
the throw is reached unconditionally (straight-line code, `goto`, calls that
return, jumps both of whose sides reach it). Forcing a point makes the first guard reached take the throwing side,
once: at its first reach, or at the N-th (a loop's iteration the manifest
names). A point with no guard throws whenever its code runs.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from framework.fixup.dead import reachable
from framework.fixup.stage import kfunc_calls
from framework.isa.decode import Slots
from framework.isa.opcodes import Kind
from framework.load.program import Program

__all__ = ["Force", "ForceCounter", "Guard", "ThrowPoint", "dead_throws", "throw_points"]


@dataclass(frozen=True, slots=True)
class Guard:
    pc: int  # a conditional jump
    taken: bool  # the side that leads to the throw


@dataclass(frozen=True, slots=True)
class ThrowPoint:
    pc: int  # the bpf_throw call
    guards: tuple[Guard, ...]  # empty: it throws whenever its code runs


@dataclass(frozen=True, slots=True)
class Force:
    """Drive a run to `point`: the first of its guards reached for the `hit`-th time takes the throwing side."""

    point: ThrowPoint
    hit: int = 1


class ForceCounter:
    """One run's forcing: counts reaches of the guards and answers, once, which side to take."""

    def __init__(self, force: Force) -> None:
        self.sides = {g.pc: g.taken for g in force.point.guards}
        self.hit = force.hit
        self.reached = 0  # reaches of any guard so far
        self.forced = False

    def decide(self, pc: int) -> bool | None:
        """At guard `pc`: the side to take, or None to let the program decide."""
        if self.forced or pc not in self.sides:
            return None
        self.reached += 1
        if self.reached < self.hit:
            return None
        self.forced = True
        return self.sides[pc]


def _unconditional_to(slots: Slots, target: int, throws: frozenset[int]) -> set[int]:
    """pcs from which `target` is reached whatever the conditional jumps on the way decide
    (a jump both of whose sides reach it counts as straight-line code)."""
    succs: dict[int, tuple[int, ...]] = {}
    for pc, insn in enumerate(slots):
        if insn is None or insn.kind in (Kind.EXIT, Kind.MAY_GOTO) or pc in throws:
            continue
        if insn.kind is Kind.JCOND:
            succs[pc] = (insn.jump_target(pc), pc + 1)
        else:
            succs[pc] = (insn.jump_target(pc) if insn.kind is Kind.JA else pc + insn.slots,)
    seen = {target}
    grew = True
    while grew:
        grew = False
        for pc, nexts in succs.items():
            if pc not in seen and all(n in seen for n in nexts):
                seen.add(pc)
                grew = True
    return seen


def throw_points(
    program: Program, reached: Collection[int] | None = None, seen: Collection[int] | None = None
) -> tuple[ThrowPoint, ...]:
    """Every reachable throwing point of `program`, in pc order, with its guards; with `reached`
    (Analysis.throws_reached), only those the verifier reached: forcing one it proved dead would
    run code it never checked (DESIGN.md: such a site is reported as dead). With `seen`
    (VerifierRecord.seen), a guard whose throwing side no verified path took is not one either:
    forcing it would take a path the verifier proved impossible (and the fixup stage hard-wired)."""
    slots = program.slots
    throws = kfunc_calls(slots, program.kfuncs, ("bpf_throw",))
    roots = frozenset({program.subprogs[0].start if program.subprogs else 0})
    roots |= {s.start for s in program.subprogs if s.is_exception_cb}
    live = reachable(slots, roots, throws)
    out = []
    for t in sorted(throws & live):
        if reached is not None and t not in reached:
            continue
        into = _unconditional_to(slots, t, throws)
        guards = []
        for pc, insn in enumerate(slots):
            if insn is None or insn.kind is not Kind.JCOND or pc not in live:
                continue
            taken, fall = insn.jump_target(pc) in into, pc + 1 in into
            side = insn.jump_target(pc) if taken else pc + 1
            if taken != fall and (seen is None or side in seen):
                guards.append(Guard(pc, taken))
        out.append(ThrowPoint(t, tuple(guards)))
    return tuple(out)


def dead_throws(program: Program, reached: Collection[int]) -> tuple[int, ...]:
    """Throwing points the control flow reaches and the verifier proved dead."""
    return tuple(p.pc for p in throw_points(program) if p.pc not in reached)
