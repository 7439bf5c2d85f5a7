"""What a run produced, and the entry point that produces it.

`run_program(program, run_input)` runs one program on one declared input in a fresh
emulated kernel and returns a `RunResult` (DESIGN.md's `exec` keys, via `to_json`).
bpf_conformance cases run through `framework.run.conformance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from framework.errors import Coord, InputError
from framework.kernel.api import KernelFault, NotEmulated
from framework.kernel.ledger import Event, Ledger, Resource
from framework.kernel.objects import RunInput
from framework.kernel.services import EmulatedKernel
from framework.load.program import Program
from framework.plan import Plan
from framework.run.frames import Outcome, Unwinder
from framework.run.interp import Interpreter
from framework.run.tailcall import Linked, link
from framework.run.targets import TargetBuilds
from framework.strategy import STOCK_RUNTIME, Strategy
from framework.throwpoints import Force

if TYPE_CHECKING:
    from framework.fixup import Fixed
    from framework.machine.engine import X86Split

__all__ = [
    "ResourceRecord",
    "RunResult",
    "run_program",
]

ENGINES = ("interp", "jit")
TIMEOUT_S = 60.0  # a run still going after this long ends as timed out (its figures are not results)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceRecord:
    """One resource (or one bad release) as the ledger saw it."""

    kind: str
    acquired_pc: int | None
    acquired_by: str | None
    released_pc: int | None = None
    released_by: str | None = None

    @classmethod
    def of(cls, res: Resource) -> ResourceRecord:
        return cls(
            kind=res.kind,
            acquired_pc=res.acquired_pc,
            acquired_by=res.acquired_by,
            released_pc=res.released_pc,
            released_by=res.released_by,
        )

    @classmethod
    def of_event(cls, ledger: Ledger, event: Event) -> ResourceRecord:
        res = ledger.resources[event.resource - 1] if event.resource is not None else None
        return cls(
            kind=res.kind if res else "unknown",
            acquired_pc=res.acquired_pc if res else None,
            acquired_by=res.acquired_by if res else None,
            released_pc=event.pc,
            released_by=event.by,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "acquired_pc": self.acquired_pc,
            "acquired_by": self.acquired_by,
            "released_pc": self.released_pc,
            "released_by": self.released_by,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """One run of one program on one input."""

    program: str
    strategy: str = "stock"
    engine: str = "interp"
    input: str = "default"
    retval: int  # what BPF_PROG_TEST_RUN reports: r0's low 32 bits
    r0: int  # r0 at the end, all 64 bits
    threw: bool
    cookie: int | None  # bpf_throw's argument, when it threw
    # the tail-call target whose exception callback took the throw (None: the program's own boundary)
    throw_target: str | None = None
    x86_insns: int | None = None  # None under the interpreter
    bpf_insns: int | None  # BPF instructions executed (exception callback included); None under the JIT
    stack_high_water: int  # bytes: the deepest sum of the live frames' touched BPF stack
    released_by_unwinder: tuple[ResourceRecord, ...] = ()
    released_by_program: tuple[ResourceRecord, ...] = ()
    leaked: tuple[ResourceRecord, ...] = ()
    double_released: tuple[ResourceRecord, ...] = ()
    used_after_release: tuple[ResourceRecord, ...] = ()
    fault: str | None = None  # "pc N: reason" when the run faulted (or was stopped by a limit)
    timed_out: bool = False  # stopped by the instruction or time limit: no figure of it is a result
    # stopped at a service the emulated kernel does not model: the run's verdict is unsupported
    unsupported: bool = False
    guard_reaches: int | None = None  # with `force`: how often its guards were reached (stops at the forced reach)
    service_calls: Mapping[str, int] = field(default_factory=dict)
    x86_split: X86Split | None = None  # engine "jit": where x86_insns ran (None under the interpreter)
    # what BPF_PROG_TEST_RUN hands back beside retval, for an skb test run (None elsewhere, or no ctx)
    data_out: bytes | None = None
    ctx_out: bytes | None = None

    def to_json(self) -> dict[str, object]:
        """DESIGN.md's `exec` keys, then `input`, `fault`, `bpf_insns`, `used_after_release`, `x86_split`
        (engine jit: `X86Split`'s fields; null under the interpreter)."""
        return {
            "program": self.program,
            "strategy": self.strategy,
            "engine": self.engine,
            "retval": self.retval,
            "threw": self.threw,
            "cookie": self.cookie,
            "x86_insns": self.x86_insns,
            "stack_high_water": self.stack_high_water,
            "released_by_unwinder": [r.to_json() for r in self.released_by_unwinder],
            "leaked": [r.to_json() for r in self.leaked],
            "double_released": [r.to_json() for r in self.double_released],
            "released_by_program": [r.to_json() for r in self.released_by_program],
            "input": self.input,
            "throw_target": self.throw_target,
            "fault": self.fault,
            "timed_out": self.timed_out,
            "unsupported": self.unsupported,
            "bpf_insns": self.bpf_insns,
            "used_after_release": [r.to_json() for r in self.used_after_release],
            "x86_split": self.x86_split.to_json() if self.x86_split is not None else None,
        }


def run_program(
    program: Program,
    run_input: RunInput | None = None,
    engine: str = "interp",
    *,
    strategy: Strategy | str = "stock",
    plan: Plan | None = None,
    fixed: Fixed | None = None,
    builds: TargetBuilds | None = None,
    unwinder: Unwinder | None = None,
    max_insns: int = 200_000_000,
    timeout_s: float = TIMEOUT_S,
    branch_overrides: Mapping[int, bool] | None = None,
    force: Force | None = None,
) -> RunResult:
    """Run `program` on `run_input` (default: an empty test run) in a fresh emulated kernel.

    Under the JIT a `Strategy` with its `plan` runs on its own C runtime and tables; a
    name (or stock) runs on stock's. `unwinder` runs at a throw under the interpreter (see
    `framework.run.frames.Unwinder`); `branch_overrides` forces conditional jumps by pc
    (True: taken); `force` drives the run to one throwing point (framework.throwpoints).
    `fixed` is the fixup of `plan` (framework.pipeline fixes a plan up once, not per run);
    `builds` the tail-call targets built so far (a bake-off shares one across its runs).
    """
    if engine not in ENGINES:
        raise InputError(Coord(program.source), f"engine '{engine}' is not available (have: {', '.join(ENGINES)})")
    name = strategy if isinstance(strategy, str) else strategy.name
    own = not isinstance(strategy, str) and strategy.runtime != STOCK_RUNTIME
    if own and engine != "jit":
        raise InputError(Coord(program.source), f"{name}'s runtime is C code for the machine: use --engine jit")
    if not isinstance(strategy, str) and strategy.runtime is None:
        raise InputError(Coord(program.source), f"{name} has no throw-time runtime yet")
    run_input = run_input if run_input is not None else RunInput()
    linked = link(program, run_input.prog_array)
    try:
        kernel = EmulatedKernel(linked.program, run_input)
    except KernelFault as exc:
        raise InputError(Coord(program.source), f"input '{run_input.name}': {exc}") from None
    if kernel.context.not_emulated is not None:  # the run cannot start as the kernel's would: no figure
        return RunResult(
            program=program.name, strategy=name, engine=engine, input=run_input.name, retval=0, r0=0,
            threw=False, cookie=None, bpf_insns=None, stack_high_water=0,
            fault=f"pc 0: {kernel.context.not_emulated}", unsupported=True,
        )  # fmt: skip
    if engine == "jit":
        return _run_jit(program, run_input, kernel, strategy, plan, fixed, builds, force, timeout_s, linked)
    arrays = {
        state.obj.base: linked.arrays[state.mdef.name] for state in kernel.maps if state.mdef.name in linked.arrays
    }
    interp = Interpreter(
        linked.program.slots,
        kernel,
        subprogs=linked.program.subprogs,
        kfuncs=linked.program.kfuncs,
        images=linked.images,
        prog_arrays=arrays,
        unwinder=unwinder,
        max_insns=max_insns,
        timeout_s=timeout_s,
        branch_overrides=branch_overrides,
        force=force,
    )
    main = program.subprogs[0].start if program.subprogs else 0
    out: Outcome = interp.run((kernel.context.ctx,), entry=main)
    reaches = interp.force.reached if interp.force is not None else None
    ledger = kernel.ledger
    if not out.timed_out:  # what a run stopped by its limit still holds has not leaked: it never ended
        ledger.finish(out.fault_pc if out.fault_pc is not None else -1)
    data_out, ctx_out = kernel.context.test_run_out()
    return RunResult(
        program=program.name,
        strategy=name,
        engine=engine,
        input=run_input.name,
        retval=out.r0 & 0xFFFFFFFF,
        r0=out.r0,
        threw=out.threw,
        cookie=out.cookie,
        throw_target=out.throw_target,
        bpf_insns=out.insns,
        stack_high_water=out.stack_high_water,
        released_by_unwinder=tuple(ResourceRecord.of(r) for r in ledger.released_by_unwinder),
        released_by_program=tuple(ResourceRecord.of(r) for r in ledger.released_by_program),
        leaked=tuple(ResourceRecord.of(r) for r in ledger.leaked),
        double_released=tuple(ResourceRecord.of_event(ledger, e) for e in ledger.double_released),
        used_after_release=tuple(ResourceRecord.of_event(ledger, e) for e in ledger.used_after_release),
        fault=out.fault,
        timed_out=out.timed_out,
        unsupported=out.unsupported,
        guard_reaches=reaches,
        service_calls=dict(kernel.calls),
        data_out=data_out,
        ctx_out=ctx_out,
    )


def _run_jit(
    program: Program,
    run_input: RunInput,
    kernel: EmulatedKernel,
    strategy: Strategy | str,
    plan: Plan | None,
    fixed: Fixed | None,
    builds: TargetBuilds | None,
    force: Force | None,
    timeout_s: float,
    linked: Linked,
) -> RunResult:
    """fixup -> jit -> machine (framework.machine.engine); the ledger as the interpreter keeps it.
    Each tail-call target is verified, planned and fixed up on its own, under its own instance
    of the strategy, as the kernel loads each program alone (framework.run.targets)."""
    from functools import partial

    from framework.fixup import CtxError, fixup_planned
    from framework.jit import JitError
    from framework.machine.engine import jit_program, run_jitted
    from framework.plan import baseline
    from framework.runtime import build_runtime

    name = strategy if isinstance(strategy, str) else strategy.name
    runtime, table_for = None, None
    if not isinstance(strategy, str) and strategy.runtime is not None and strategy.runtime != STOCK_RUNTIME:
        if plan is None:
            raise InputError(Coord(program.source), f"{name}'s runtime needs the plan of a verified program")
        runtime = build_runtime(strategy.runtime, tail_calls=bool(linked.targets))
        table_for = partial(strategy.runtime_table, plan)
    elif linked.targets:  # stock's, built to tell the programs apart
        runtime = build_runtime(STOCK_RUNTIME, tail_calls=True)
    own = table_for is not None
    try:
        if fixed is None:
            fixed = fixup_planned(plan if plan is not None else baseline(program), program)
        builds = builds if builds is not None else TargetBuilds()
        targets = tuple(builds.get(t, strategy, own) for t in linked.targets)
        slots = {  # map index -> slot -> program name
            k: {i: image.name for i, image in linked.arrays[m.name].slots.items()}
            for k, m in enumerate(linked.program.maps)
            if m.name in linked.arrays
        }
        prepared = jit_program(kernel, fixed, runtime=runtime, table_for=table_for, targets=targets, slots=slots)
    except (CtxError, JitError) as exc:
        raise InputError(Coord(program.source), f"{program.name}: cannot JIT: {exc}") from None
    except NotEmulated as exc:
        return RunResult(
            program=program.name, strategy=name, engine="jit", input=run_input.name, retval=0, r0=0,
            threw=False, cookie=None, bpf_insns=None, stack_high_water=0, fault=f"pc 0: {exc}", unsupported=True,
        )  # fmt: skip
    if force is not None and force.point.pc in fixed.removed:  # opt_remove_dead_code took it: forcing would run nothing
        raise InputError(
            Coord(program.source),
            f"{program.name}: the throw at pc {force.point.pc} is code no verifier path reached; "
            "the fixup stage removed it, so it cannot be forced",
        )
    run = run_jitted(kernel, prepared, force=force, timeout_us=int(timeout_s * 1e6))
    res = run.result
    fault_pc = None
    fault = None
    original_pc = prepared.linked.original_pc if prepared.linked is not None else fixed.original_pc
    if res.fault is not None:
        fault_pc = original_pc(res.fault.pc) if res.fault.pc is not None else None
        where = f"pc {fault_pc}" if fault_pc is not None else f"rip 0x{res.fault.rip:x}"
        fault = f"{where}: {res.fault.reason}" + (f" at 0x{res.fault.address:x}" if res.fault.address else "")
    ledger = kernel.ledger
    if not res.timed_out:  # what a run stopped by its limit still holds has not leaked: it never ended
        ledger.finish(fault_pc if fault_pc is not None else -1)
    data_out, ctx_out = kernel.context.test_run_out()
    return RunResult(
        program=program.name,
        strategy=name,
        engine="jit",
        input=run_input.name,
        retval=res.retval & 0xFFFFFFFF,
        r0=res.retval,
        threw=run.throw.threw,
        cookie=run.throw.cookie if run.throw.threw else None,
        throw_target=(
            prepared.linked.programs[run.throw.boundary].name
            if prepared.linked is not None and run.throw.threw and run.throw.boundary > 0
            else None
        ),
        x86_insns=run.split.total,
        bpf_insns=None,  # the machine counts x86 instructions, not BPF ones
        stack_high_water=res.stack_high_water,
        released_by_unwinder=tuple(ResourceRecord.of(r) for r in ledger.released_by_unwinder),
        released_by_program=tuple(ResourceRecord.of(r) for r in ledger.released_by_program),
        leaked=tuple(ResourceRecord.of(r) for r in ledger.leaked),
        double_released=tuple(ResourceRecord.of_event(ledger, e) for e in ledger.double_released),
        used_after_release=tuple(ResourceRecord.of_event(ledger, e) for e in ledger.used_after_release),
        fault=fault,
        timed_out=res.timed_out,
        unsupported=res.fault is not None and res.fault.unsupported,
        guard_reaches=run.guard_reaches,
        service_calls=dict(kernel.calls),
        x86_split=run.split,
        data_out=data_out,
        ctx_out=ctx_out,
    )
