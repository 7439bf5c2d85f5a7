"""Per (program, strategy): verdict, stack, metadata, code growth, happy-path and throw-time costs.

- Stack: the verifier's depth per subprog (a strategy's reserved stack included),
  the deepest call chain as check_max_stack_depth sums it (frames rounded to 16), and
  per run the emulated x86 stack's high-water mark.
- Metadata: the bytes of the strategy's tables in their documented encoding.
- Code growth: BPF instructions the strategy inserts (or its `prepare` emits, as a
  compiler would), and the JITed image's bytes beside the program as given JITed
  without them (images built without counters).
- Happy path: x86 instructions of a run that does not throw (the program's own
  and the strategy's happy-path runtime, `record`), beside the same program run as
  stock JITs it, on the same input, in the same process.
- Throw time: per throwing point, forced (framework.throwpoints), the runtime's
  instructions split into walk, lookup and release, the landing pads' BPF (`pad`)
  and the exception callback's.
- Problems: whatever framework.run.exercise found wrong with any run.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from framework.fixup import fixup_planned
from framework.kernel.objects import RunInput
from framework.kernel.services import EmulatedKernel
from framework.load.program import Program
from framework.machine.engine import jit_program
from framework.plan import Plan, baseline
from framework.run.exercise import Exercised
from framework.run.reference import Check, References
from framework.run.result import TIMEOUT_S, RunResult
from framework.strategy import Strategy
from framework.throwpoints import dead_throws
from framework.verify.result import Analysis

__all__ = [
    "Costs",
    "HappyPath",
    "RunCase",
    "ThrowCost",
    "costs",
    "happy_path",
    "jit_bytes",
    "stock_run",
    "throw_cost",
]


@dataclass(frozen=True, slots=True)
class HappyPath:
    input: str
    x86_insns: int  # the program's and the happy-path runtime's
    record: int  # of which in the strategy's runtime (a resource table's pushes and pops)
    stock_x86_insns: int  # the same program and input as stock runs it
    stack_high_water: int = 0  # bytes of x86 stack below the rsp at entry, at the deepest

    @property
    def over_stock(self) -> int:
        return self.x86_insns - self.stock_x86_insns

    def to_json(self) -> dict[str, object]:
        return {
            "input": self.input,
            "x86_insns": self.x86_insns,
            "record": self.record,
            "stock_x86_insns": self.stock_x86_insns,
            "over_stock": self.over_stock,
            "stack_high_water": self.stack_high_water,
        }


@dataclass(frozen=True, slots=True)
class ThrowCost:
    throw_pc: int | None  # None: the input threw, nothing was forced
    input: str
    hit: int  # which reach of its guard was forced
    walk: int
    lookup: int
    release: int
    exception_cb: int
    released: int  # resources the unwinder released
    pad: int = 0  # landing pads' BPF instructions (landing-pads)
    stack_high_water: int = 0  # bytes of x86 stack below the rsp at entry, the runtime's frames included

    @property
    def runtime(self) -> int:
        return self.walk + self.lookup + self.release + self.pad

    def to_json(self) -> dict[str, object]:
        return {
            "throw_pc": self.throw_pc,
            "input": self.input,
            "force_hit": self.hit,
            "walk": self.walk,
            "lookup": self.lookup,
            "release": self.release,
            "pad": self.pad,
            "exception_cb": self.exception_cb,
            "released": self.released,
            "stack_high_water": self.stack_high_water,
        }


@dataclass(frozen=True, slots=True)
class RunCase:
    """One run of the row (an input as it goes, or a forced throwing point), beside its reference."""

    input: str
    throw_pc: int | None
    hit: int
    verdict: str  # accepted, mismatch, timeout or unsupported
    retval: int | None  # None: stopped by a limit (no value is a result)
    check: Check | None  # None when the run was stopped by a limit
    stock_check: Check | None = None  # the happy-path baseline's own run (stock's JIT of the program as given)
    expected: bool = False  # a timeout or unsupported run the manifest declares (the emulator cannot finish or run it)
    released: int = 0  # resources the strategy's unwinder released
    leaked: int = 0  # resources still held at the end
    double_released: int = 0  # releases of what was already released

    @property
    def agrees(self) -> bool:
        return self.verdict == "accepted"

    def to_json(self) -> dict[str, object]:
        ref = self.check.reference if self.check is not None else None
        out: dict[str, object] = {
            "input": self.input,
            "throw_pc": self.throw_pc,
            "force_hit": self.hit,
            "verdict": self.verdict,
            "retval": self.retval,
            "reference_retval": ref.retval if ref is not None else None,
            "reference_released": [h.to_json() for h in ref.released] if ref is not None else [],
            "agrees": self.agrees,
            "differences": list(self.check.differences) if self.check is not None else [],
            "released": self.released,
            "leaked": self.leaked,
            "double_released": self.double_released,
        }
        if self.verdict == "timeout":
            out["expected"] = self.expected
        if self.stock_check is not None and not self.stock_check.agrees:
            out["stock_baseline_differences"] = list(self.stock_check.differences)
        return out


@dataclass(frozen=True, slots=True)
class Costs:
    program: str
    strategy: str
    verdict: str
    message: str | None
    stack_depth: tuple[int, ...] = ()
    reserved_stack: tuple[int, ...] = ()
    deepest_chain: int = 0
    metadata_bytes: int | None = None
    added_insns: int | None = None
    jit_bytes: int | None = None
    stock_jit_bytes: int | None = None
    happy: tuple[HappyPath, ...] = ()
    throws: tuple[ThrowCost, ...] = ()
    problems: tuple[str, ...] = ()
    dead_throws: tuple[int, ...] = ()  # throwing points the verifier proved dead: not forced
    runs: tuple[RunCase, ...] = ()  # every run, beside its reference

    @property
    def mismatches(self) -> int:
        return sum(1 for r in self.runs if r.verdict == "mismatch")

    @property
    def timeouts(self) -> int:
        """Runs stopped by a limit that their manifest did not declare would be."""
        return sum(1 for r in self.runs if r.verdict == "timeout" and not r.expected)

    @property
    def expected_timeouts(self) -> int:
        return sum(1 for r in self.runs if r.verdict == "timeout" and r.expected)

    @property
    def unsupported(self) -> int:
        """Runs that stopped where the manifest says the machine does not model what they reach."""
        return sum(1 for r in self.runs if r.verdict == "unsupported" and r.expected)

    def to_json(self) -> dict[str, object]:
        return {
            "program": self.program,
            "strategy": self.strategy,
            "verdict": self.verdict,
            "message": self.message,
            "stack_depth": list(self.stack_depth),
            "reserved_stack": list(self.reserved_stack),
            "deepest_chain": self.deepest_chain,
            "metadata_bytes": self.metadata_bytes,
            "added_insns": self.added_insns,
            "jit_bytes": self.jit_bytes,
            "stock_jit_bytes": self.stock_jit_bytes,
            "happy_path": [h.to_json() for h in self.happy],
            "throws": [t.to_json() for t in self.throws],
            "problems": list(self.problems),
            "dead_throws": list(self.dead_throws),
            "agrees": all(r.agrees for r in self.runs),
            "mismatches": self.mismatches,
            "timeouts": self.timeouts,
            "expected_timeouts": self.expected_timeouts,
            "unsupported_runs": self.unsupported,
            "runs": [r.to_json() for r in self.runs],
        }


def _declared(run: Exercised, unsupported: str | None) -> bool:
    """Whether `run` stopped, unsupported, at what the manifest says it does."""
    return run.verdict == "unsupported" and unsupported is not None and unsupported in (run.result.fault or "")


def jit_bytes(program: Program, made: Plan | None) -> int:
    """The size of the image Linux would JIT (no counters): with the plan's insertions, or as
    stock JITs it (None: framework.plan.baseline, which verifies it)."""
    kernel = EmulatedKernel(program, RunInput())
    fixed = fixup_planned(made if made is not None else baseline(program), program)
    return len(jit_program(kernel, fixed, counter=None).image.code)


def stock_run(
    given: Program, run_input: RunInput, references: References | None = None, timeout_s: float = TIMEOUT_S
) -> tuple[RunResult, Check]:
    """Stock's JIT of the program as given on `run_input` (the happy-path baseline), beside its reference
    (shared across strategies through `references`)."""
    return (references if references is not None else References()).stock(given, run_input, timeout_s)


def happy_path(result: RunResult, stock: RunResult) -> HappyPath:
    """A run that returned, beside stock's JIT of the program as given (a compiler's pads and
    cleanup slots are the strategy's) on the same input (`stock`: framework.measure.stock_run's)."""
    split, base = result.x86_split, stock.x86_split
    assert split is not None and base is not None, "happy paths are JIT runs"
    return HappyPath(result.input, split.program + split.record, split.record, base.program, result.stack_high_water)


def throw_cost(result: RunResult, throw_pc: int | None, hit: int) -> ThrowCost:
    """A run that threw: its runtime's instructions, split."""
    split = result.x86_split
    assert split is not None, "throw costs are JIT runs"
    return ThrowCost(
        throw_pc,
        result.input,
        hit,
        split.walk,
        split.lookup,
        split.release,
        split.exception_cb,
        len(result.released_by_unwinder),
        split.pad,
        result.stack_high_water,
    )


def costs(
    program: Program,
    strategy: Strategy,
    analysis: Analysis,
    made: Plan | None = None,
    runs: Sequence[Exercised] = (),
    *,
    given: Program | None = None,
    inputs: Sequence[RunInput] = (),
    references: References | None = None,
    timeout_s: float = TIMEOUT_S,
    expected_timeouts: Collection[str] = (),
    unsupported: str | None = None,
) -> Costs:
    """The row of `program` (as the strategy prepared it) from its analysis, its plan and its runs
    (framework.pipeline makes them), measured beside stock's JIT of the program as `given`; with no
    plan, the verdict alone. Only runs that agree with their reference are measured; the row's verdict
    is `mismatch` (or `timeout`) when any run is one. `expected_timeouts` names the inputs the
    manifest says the emulator cannot finish; `unsupported` is what it says every run stops at."""
    prepared = program
    head = Costs(prepared.name, strategy.name, analysis.verdict.value, analysis.message, analysis.stack_depth)
    if made is None:
        return head
    program = given if given is not None else prepared
    refs = references if references is not None else References()
    reached = analysis.throws_reached
    happy = []
    cases = []
    by_name = {i.name: i for i in inputs}
    base = refs.baseline(program)  # stock's JIT of the program as given, for every comparison below
    for run in runs:
        verdict, stock_check = run.verdict, None
        returned = run.throw_pc is None and not run.result.threw and run.result.fault is None
        if run.measured and returned:
            stock, stock_check = stock_run(program, by_name[run.result.input], refs, timeout_s)
            if stock_check.agrees:
                happy.append(happy_path(run.result, stock))
            else:  # the baseline is a figure too: one that disagrees with the reference is not used
                verdict = stock_check.verdict
        retval = None if run.result.timed_out else run.result.retval
        expected = (verdict == "timeout" and run.result.input in expected_timeouts) or _declared(run, unsupported)
        res = run.result
        case = RunCase(
            res.input, run.throw_pc, run.hit, verdict, retval, run.check, stock_check, expected,
            len(res.released_by_unwinder), len(res.leaked), len(res.double_released),
        )  # fmt: skip
        cases.append(case)
    throws = tuple(
        throw_cost(r.result, r.throw_pc, r.hit)
        for r in runs
        if r.measured and r.throw_pc is not None and r.result.threw
    )
    problems = tuple(
        f"{r.result.input}, throw pc {r.throw_pc}: {p}"
        for r in runs
        if not _declared(r, unsupported)
        for p in r.problems
    )
    problems += tuple(
        f"{c.input}, throw pc {c.throw_pc}: {c.verdict}" + (f": {'; '.join(c.check.differences)}" if c.check else "")
        for c in cases if not c.agrees and not c.expected
    )  # fmt: skip
    verdict = "mismatch" if any(c.verdict == "mismatch" for c in cases) else analysis.verdict.value
    if verdict != "mismatch" and any(c.verdict == "timeout" for c in cases):
        verdict = "timeout"
    return Costs(
        prepared.name,
        strategy.name,
        verdict,
        analysis.message,
        analysis.stack_depth,
        made.extra_stack,
        analysis.deepest_chain,
        made.metadata_bytes,
        made.added_insns,
        jit_bytes(prepared, made),
        jit_bytes(program, base),
        tuple(happy),
        throws,
        problems,
        dead_throws(prepared, reached),
        tuple(cases),
    )
