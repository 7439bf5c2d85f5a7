"""The one driver: a program through every stage, each a function from one frozen artifact to the next.

    load ──► verify ──► plan ──► fixup ──► (JIT ─► machine | interpreter) ──► measure
    Program   Verified    Planned (plan + fixed)    Exercised runs               Costs

- `verify(given, strategy)`: the strategy's `prepare` (what its compiler would emit, given the
  program's survey when it asks: framework.verify.survey), then the verifier with the strategy's
  hooks, threading the strategy's state from `prepare` through every hook: a `Verified`. Each
  (program, strategy) is verified once here; everything after reads the `Verified`.
- `plan(verified)`: the strategy's rewrite (framework.plan) and its fixup (do_misc_fixups and
  the rest, framework.fixup), once: a `Planned`.
- `run(planned, input)`: one run; `exercise(planned, inputs)`: every run (unforced, then each
  throwing point forced), on the JIT and the machine, each beside the interpreter's reference
  run (framework.run).
- `measure(given, strategy, inputs)`: all of the above and the figures (framework.measure);
  an exception raised in the strategy's own code costs its row (verdict `error`), not the run.

`bakeoff exec`, `bakeoff run`, `bakeoff verify` and the conformance kit go through these
functions; tests of one stage call that stage directly (and some older tests still chain stages
by hand). Two places below still chain stages of their own: a tail-call
target is loaded as the kernel loads it, verified and planned alone (framework.run.targets), and
the JIT-size figures JIT the fixed program without a counter (framework.measure.jit_bytes).
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from framework.fixup import Fixed, fixup_planned
from framework.kernel.objects import RunInput
from framework.load.program import Program
from framework.measure.costs import Costs, costs
from framework.plan import Plan
from framework.plan import plan as rewrite
from framework.run.exercise import Exercised
from framework.run.exercise import exercise as run_cases
from framework.run.reference import References
from framework.run.result import TIMEOUT_S, RunResult, run_program
from framework.strategy import Strategy
from framework.throwpoints import Force
from framework.verify.result import Analysis
from framework.verify.survey import prepare, prepared_and_verified

__all__ = ["Planned", "Verified", "exercise", "measure", "plan", "prepare", "run", "verify"]


@dataclass(frozen=True, slots=True)
class Verified:
    """A program as given, as its strategy's compiler leaves it, and what the verifier said of that."""

    given: Program
    program: Program  # strategy.prepare(given): the given program unless the strategy compiles its own
    strategy: Strategy
    analysis: Analysis

    @property
    def accepted(self) -> bool:
        return self.analysis.accepted


@dataclass(frozen=True, slots=True)
class Planned:
    """A verified program with the strategy's plan and the fixup every run of it starts from."""

    verified: Verified
    plan: Plan
    fixed: Fixed


def verify(given: Program, strategy: Strategy, *, log_level: int = 0) -> Verified:
    """The strategy's `prepare`, then the verifier with its hooks (framework.verify)."""
    program, analysis = prepared_and_verified(given, strategy, log_level)
    return Verified(given, program, strategy, analysis)


def plan(verified: Verified) -> Planned:
    """The strategy's rewrite of an accepted program (framework.plan), fixed up (framework.fixup)."""
    if not verified.accepted:
        raise ValueError(f"{verified.program.name} was refused under {verified.strategy.name}: nothing to plan")
    made = rewrite(verified.strategy, verified.program, verified.analysis)
    return Planned(verified, made, fixup_planned(made, verified.program))


def run(
    planned: Planned,
    run_input: RunInput | None = None,
    *,
    engine: str = "jit",
    force: Force | None = None,
    timeout_s: float = TIMEOUT_S,
) -> RunResult:
    """One run of a planned program on one input (default: an empty test run), from the plan's
    fixup; `force` drives it to one throwing point. No reference beside it: `exercise` pairs each
    run with the interpreter's."""
    v = planned.verified
    return run_program(
        v.program, run_input, engine, strategy=v.strategy, plan=planned.plan,
        fixed=planned.fixed if engine == "jit" else None, force=force, timeout_s=timeout_s,
    )  # fmt: skip


def exercise(
    planned: Planned,
    inputs: Sequence[RunInput],
    *,
    engine: str = "jit",
    hits: Sequence[int] = (),
    twin_retvals: Mapping[str, int] | None = None,
    only: int | None = None,
    forced: bool = True,
    references: References | None = None,
    timeout_s: float = TIMEOUT_S,
) -> tuple[Exercised, ...]:
    """Every run of a planned program (framework.run.exercise), each beside its reference: the
    throwing points the verifier proved dead or never took are not forced."""
    v = planned.verified
    return run_cases(
        v.program, v.strategy, planned.plan, inputs, fixed=planned.fixed if engine == "jit" else None,
        engine=engine, hits=hits, twin_retvals=twin_retvals, only=only, reached=v.analysis.throws_reached,
        given=v.given, seen=v.analysis.record.seen, forced=forced, timeout_s=timeout_s, references=references,
    )  # fmt: skip


def measure(
    given: Program,
    strategy: Strategy,
    inputs: Sequence[RunInput],
    *,
    hits: Sequence[int] = (),
    twin_retvals: Mapping[str, int] | None = None,
    references: References | None = None,
    timeout_s: float = TIMEOUT_S,
    expected_timeouts: Collection[str] = (),
    unsupported: str | None = None,
) -> Costs:
    """One (program, strategy) row: verify, plan, exercise and measure beside stock's JIT of the
    program as given. `references` may be shared across strategies; `expected_timeouts` names the
    inputs the manifest says the emulator cannot finish, `unsupported` what it says every run stops
    at (CorpusEntry.unsupported). An exception raised in the strategy's own code costs this row
    (verdict `error`, the exception and where the strategy raised it); one from the framework
    itself is a bug and goes on up."""
    inputs = tuple(inputs) or (RunInput(),)  # no declared input: one empty test run (framework.run.exercise's)
    try:
        verified = verify(given, strategy)
        if not verified.accepted or strategy.runtime is None:
            return costs(verified.program, strategy, verified.analysis)
        planned = plan(verified)
        refs = references if references is not None else References()
        runs = exercise(planned, inputs, hits=hits, twin_retvals=twin_retvals, references=refs, timeout_s=timeout_s)
        return costs(
            verified.program, strategy, verified.analysis, planned.plan, runs, given=given, inputs=inputs,
            references=refs, timeout_s=timeout_s, expected_timeouts=expected_timeouts, unsupported=unsupported,
        )  # fmt: skip
    except Exception as exc:
        where = _raised_in(exc, strategy)
        if where is None:
            raise
        message = f"the strategy raised {type(exc).__name__} at {where}: {str(exc)[:200]}"
        return Costs(given.name, strategy.name, "error", message, problems=(message,))


def _raised_in(exc: BaseException, strategy: Strategy) -> str | None:
    """file:line of the innermost frame of `exc`'s traceback in the strategy's own module, if any."""
    try:
        own = Path(inspect.getfile(type(strategy))).resolve()
    except TypeError:  # a class without a source file: nothing to blame
        return None
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == own:
            found = f"{own.name}:{frame.lineno}"
    return found
