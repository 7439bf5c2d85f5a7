"""Every throwing point exercised: runs of one program under one strategy, with the checks of each.

For each input: one run as the input drives it, and one per reachable throwing
point forced (framework.throwpoints) at its guard's first reach and, where the
manifest names one (`force_hit`), at that reach too. Every run is paired with its
reference (framework.run.reference: the interpreter's run of the program as given,
on the same input and the same forced throw, under the ideal cleanup); a run that
disagrees is a `mismatch` and one stopped by a limit a `timeout`, and neither is
measured. After every run the ledger must also show nothing leaked, nothing
released twice or used after its release, and, after a throw, everything the
program had not released by then released by the unwinder; the return value must
be what the exception callback returns for the cookie (the cookie itself without
one), and, where the program has a hand-cleaned twin the live kernel ran on the
same input, the twin's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from framework.kernel.objects import RunInput
from framework.kernel.services import EmulatedKernel
from framework.load.program import Program
from framework.plan import Plan
from framework.run.interp import Interpreter
from framework.run.reference import Check, References, check, given_force
from framework.run.result import TIMEOUT_S, RunResult, run_program
from framework.strategy import Strategy
from framework.throwpoints import Force, throw_points

if TYPE_CHECKING:
    from framework.fixup import Fixed

__all__ = ["Exercised", "callback_return", "exercise"]


@dataclass(frozen=True, slots=True)
class Exercised:
    """One run and what was wrong with it (nothing, when `problems` is empty)."""

    throw_pc: int | None  # the throwing point forced (None: the input decided)
    hit: int  # which reach of its guard was forced
    result: RunResult
    expected_retval: int | None  # for a throw: what the exception callback returns for the cookie
    problems: tuple[str, ...]
    guard_reaches: int | None = None  # forced runs: how often the guards were reached (up to the forced reach)
    check: Check | None = None  # beside its reference (framework.run.reference)

    @property
    def verdict(self) -> str:
        """`accepted`, `mismatch`, `timeout` or `unsupported` (DESIGN.md's outcomes of a run)."""
        if self.result.timed_out:
            return "timeout"
        if self.result.unsupported or (self.check is not None and self.check.reference.unsupported):
            return "unsupported"  # the emulated kernel lacks a service the run (or its reference) reached
        return self.check.verdict if self.check is not None else "accepted"

    @property
    def measured(self) -> bool:
        """Whether the run's figures are results: it agreed with its reference."""
        return self.verdict == "accepted"

    @property
    def forced(self) -> bool:
        """Whether the forced reach happened (a point with no guard throws when its code runs)."""
        return self.throw_pc is not None and (self.guard_reaches or 0) >= self.hit

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        """DESIGN.md's `exec` keys first (`verdict` after `engine`; the reference's after the
        run's ledger), then `throw_pc`, `force_hit`, `guard_reaches` and the rest of the run."""
        run = self.result.to_json()
        ref = self.check.to_json() if self.check is not None else {}
        head = ("program", "strategy", "engine")
        ledger: tuple[str, ...] = ("retval", "threw", "cookie", "x86_insns", "stack_high_water")
        ledger += ("released_by_unwinder", "leaked", "double_released")
        out: dict[str, object] = {k: run[k] for k in head}
        out["verdict"] = self.verdict
        out |= {k: run[k] for k in ledger}
        out["retval"] = None if self.result.timed_out else run["retval"]  # a stopped run has no value
        out |= {k: ref.get(k) for k in ("reference_retval", "reference_released", "agrees")}
        out |= {
            "throw_pc": self.throw_pc,
            "force_hit": self.hit if self.throw_pc is not None else None,
            "guard_reaches": self.guard_reaches,
        }
        out |= {k: v for k, v in run.items() if k not in out}
        out |= {k: v for k, v in ref.items() if k not in out and k != "verdict"}
        return out | {"expected_retval": self.expected_retval, "problems": list(self.problems)}


def callback_return(program: Program, run_input: RunInput, cookie: int) -> int:
    """What the exception callback returns for `cookie` (bpf_throw's default callback: the cookie)."""
    cb = program.exception_cb
    if cb is None:
        return cookie & 0xFFFFFFFF
    kernel = EmulatedKernel(program, run_input)
    out = Interpreter(program.slots, kernel, subprogs=program.subprogs, kfuncs=program.kfuncs).run((cookie,), cb.start)
    return out.r0 & 0xFFFFFFFF


def _problems(program: Program, run_input: RunInput, r: RunResult, twin: int | None) -> tuple[list[str], int | None]:
    if r.timed_out:  # no figure of a stopped run is a result: its verdict (`timeout`) says all there is
        return [], None
    out = []
    if r.fault:
        out.append(f"faulted: {r.fault}")
    out += [f"leaked {x.kind} acquired at pc {x.acquired_pc}" for x in r.leaked]
    out += [f"released {x.kind} twice (by {x.released_by})" for x in r.double_released]
    out += [f"used {x.kind} after its release (by {x.released_by})" for x in r.used_after_release]
    if not r.threw and r.released_by_unwinder:
        out.append("the unwinder released something though nothing threw")
    expected = None
    # a throw a tail-call target's callback took returns to whatever called that frame: only the
    # reference run (which every run is paired with) says what the program then returns
    if r.threw and r.cookie is not None and not r.fault and r.throw_target is None:
        expected = callback_return(program, run_input, r.cookie)
        if r.retval != expected:
            out.append(f"returned {r.retval}, the exception callback returns {expected} for cookie {r.cookie}")
    if twin is not None and not r.fault and r.retval != twin:
        out.append(f"returned {r.retval}, the hand-cleaned twin returns {twin} on the kernel")
    return out, expected


def exercise(
    program: Program,
    strategy: Strategy | str,
    plan: Plan | None,
    inputs: Sequence[RunInput],
    *,
    fixed: Fixed | None = None,
    engine: str = "jit",
    hits: Sequence[int] = (),
    twin_retvals: Mapping[str, int] | None = None,
    only: int | None = None,
    reached: Collection[int] | None = None,
    given: Program | None = None,
    seen: Collection[int] | None = None,
    forced: bool = True,
    timeout_s: float = TIMEOUT_S,
    references: References | None = None,
) -> tuple[Exercised, ...]:
    """The runs: per input, unforced (unless `only` names a throwing point), then each point
    forced (or just `only`) at the first reach and at each of `hits`; with `reached`
    (Analysis.throws_reached), points the verifier proved dead are not forced, and with `seen`
    (VerifierRecord.seen) guards whose throwing side it never took are not forced either; with `forced` False, only
    the runs as each input goes. `given` is the program
    before the strategy's `prepare` (its reference); `references` a cache shared across strategies (its
    tail-call target builds too); `fixed` the plan's fixup, made once for every run."""
    references = references if references is not None else References()
    points = throw_points(program, reached, seen) if forced else ()
    if only is not None:
        points = tuple(p for p in points if p.pc == only)
    if program.origin and given is None:
        raise ValueError(f"{program.name} was prepared by a strategy: its reference needs the program as given")
    given = given if given is not None else program
    out = []
    for run_input in inputs or (RunInput(),):
        runs: list[tuple[Force | None, int | None, int]] = [] if only is not None else [(None, None, 1)]
        runs += [(Force(p, h), p.pc, h) for p in points for h in sorted({1, *hits})]
        for force, pc, hit in runs:
            r = run_program(
                program, run_input, engine, strategy=strategy, plan=plan, fixed=fixed, builds=references.builds,
                force=force, timeout_s=timeout_s,
            )  # fmt: skip
            twin = (twin_retvals or {}).get(run_input.name) if force is None else None
            problems, expected = _problems(program, run_input, r, twin)
            reaches = r.guard_reaches if force is not None and force.point.guards else None
            if reaches is not None and reaches >= hit and not r.threw and not r.timed_out:
                problems.append(f"forced pc {pc} at its guard's reach {hit}, but the run did not throw")
            paired = None
            if not r.timed_out:
                ref = references.get(given, run_input, given_force(given, program, force), timeout_s)
                paired = check(r, ref, program.origin)
            out.append(Exercised(pc, hit, r, expected, tuple(problems), reaches, paired))
    return tuple(out)
